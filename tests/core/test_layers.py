import numpy as np
import pytest
import pywt
from keras import ops
from layer_test_case import run_layer_test

from keras_simple_diffusion import layers


def to_np(x):
    return ops.convert_to_numpy(x)


def random_images(shape, seed=0):
    return np.random.RandomState(seed).randn(*shape).astype("float32")


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_dwt53_is_exactly_invertible(levels):
    x = random_images((2, 32, 32, 3))
    bands = layers.DWT53(levels)(x)
    assert tuple(bands.shape) == (2, 32 // 2**levels, 32 // 2**levels, 3 * 4**levels)
    np.testing.assert_allclose(to_np(layers.InverseDWT53(levels)(bands)), x, atol=1e-5)


def test_dwt53_linear_ramp_has_zero_detail_away_from_the_border():
    ii, jj = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    ramp = (0.3 * ii - 0.7 * jj + 2.0).astype("float32")[None, :, :, None]
    bands = to_np(layers.DWT53(1)(ramp))[0]
    for band in (1, 2, 3):  # LH, HL, HH
        np.testing.assert_allclose(bands[1:-1, 1:-1, band], 0.0, atol=1e-5)
    constant = np.full((1, 16, 16, 1), 0.7, "float32")
    bands = to_np(layers.DWT53(2)(constant))[0]
    np.testing.assert_allclose(bands[..., 0], 0.7, atol=1e-6)  # the LL-of-LL band
    np.testing.assert_allclose(bands[..., 1:], 0.0, atol=1e-6)  # everything else, borders too


def test_dwt53_matches_pywavelets_bior22_up_to_a_scale_per_band():
    # JPEG 2000's symmetric extension is PyWavelets' "reflect" mode, whose
    # output carries one extra coefficient on each side.
    x = random_images((1, 16, 16, 1), seed=3)
    ours = to_np(layers.DWT53(1)(x))[0]
    approx, (horizontal, vertical, diagonal) = pywt.dwt2(
        x[0, :, :, 0].astype("float64"), "bior2.2", mode="reflect"
    )
    expected = {0: (approx, 2.0), 1: (vertical, -1.0), 2: (horizontal, -1.0), 3: (diagonal, 0.5)}
    for band, (reference, scale) in expected.items():
        np.testing.assert_allclose(reference[1:-1, 1:-1], scale * ours[..., band], atol=1e-5)


@pytest.mark.parametrize("patch_size", [1, 2, 4])
def test_patching_is_exactly_invertible(patch_size):
    x = random_images((2, 16, 16, 3))
    patches = layers.Patchify(patch_size)(x)
    assert tuple(patches.shape) == (2, 16 // patch_size, 16 // patch_size, 3 * patch_size**2)
    np.testing.assert_array_equal(to_np(layers.Unpatchify(patch_size)(patches)), x)
    # The first patch holds the top-left p x p pixels, row-major.
    np.testing.assert_array_equal(
        to_np(patches)[0, 0, 0], x[0, :patch_size, :patch_size].reshape(-1)
    )


def test_image_layers_reject_bad_shapes_with_clear_errors():
    with pytest.raises(ValueError, match="divisible by 4"):
        layers.DWT53(2)(random_images((1, 18, 18, 1)))
    with pytest.raises(ValueError, match="rank 4"):
        layers.Patchify(2)(random_images((4, 16, 16)))
    with pytest.raises(ValueError, match="channels must be divisible"):
        layers.InverseDWT53(1)(random_images((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="levels"):
        layers.DWT53(0)


def test_selective_dropout_only_at_low_resolution():
    high = layers.SelectiveDropout(0.5, max_resolution=16, seed=1)
    low = layers.SelectiveDropout(0.5, max_resolution=16, seed=1)
    x_high, x_low = np.ones((2, 32, 32, 4), "float32"), np.ones((2, 16, 16, 4), "float32")
    np.testing.assert_array_equal(to_np(high(x_high, training=True)), x_high)
    dropped = to_np(low(x_low, training=True))
    assert 0.3 < np.mean(dropped == 0) < 0.7
    np.testing.assert_array_equal(to_np(low(x_low, training=False)), x_low)
    tokens = layers.SelectiveDropout(0.5, max_resolution=16, resolution=8, seed=1)
    assert tokens.active and not high.active


def test_blocks_start_as_identity_and_keep_shapes():
    x, embedding = random_images((2, 4, 4, 16)), random_images((2, 32))
    block = layers.ResidualBlock(16, groups=4)
    np.testing.assert_allclose(to_np(block([x, embedding])), x, atol=1e-6)
    assert tuple(layers.ResidualBlock(24, groups=4)([x, embedding]).shape) == (2, 4, 4, 24)
    tokens = random_images((2, 16, 16))
    transformer = layers.TransformerBlock(num_heads=4)
    np.testing.assert_allclose(to_np(transformer([tokens, embedding])), tokens, atol=1e-6)
    cross = layers.TransformerBlock(num_heads=4, cross_attention=True)
    context, mask = random_images((2, 5, 12)), np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])
    assert tuple(cross([tokens, embedding, context, mask]).shape) == (2, 16, 16)


def test_noise_level_embedding_distinguishes_noise_levels():
    embedding = layers.NoiseLevelEmbedding(32)
    out = to_np(embedding(np.array([-10.0, 0.0, 10.0], "float32")))
    assert out.shape == (3, 32)
    assert np.abs(out[0] - out[2]).max() > 1e-3


def test_dwt53_layer():
    run_layer_test(layers.DWT53, dict(levels=2), random_images((2, 8, 8, 3)), (2, 2, 2, 48))


def test_inverse_dwt53_layer():
    output = run_layer_test(
        layers.InverseDWT53, dict(levels=2), random_images((2, 2, 2, 48)), (2, 8, 8, 3)
    )
    np.testing.assert_allclose(
        to_np(layers.DWT53(2)(output)), random_images((2, 2, 2, 48)), atol=1e-5
    )


def test_patchify_layer():
    run_layer_test(layers.Patchify, dict(patch_size=2), random_images((2, 8, 8, 3)), (2, 4, 4, 12))


def test_unpatchify_layer():
    run_layer_test(
        layers.Unpatchify, dict(patch_size=2), random_images((2, 4, 4, 12)), (2, 8, 8, 3)
    )


def test_selective_dropout_layer():
    run_layer_test(
        layers.SelectiveDropout,
        dict(rate=0.5, max_resolution=8, seed=1),
        random_images((2, 8, 8, 4)),
        (2, 8, 8, 4),
    )


def test_residual_block_layer():
    run_layer_test(
        layers.ResidualBlock,
        dict(filters=8, dropout=0.1, dropout_max_resolution=4, groups=4, seed=2),
        [random_images((2, 4, 4, 6)), random_images((2, 16), seed=1)],
        (2, 4, 4, 8),
    )


@pytest.mark.parametrize("cross_attention", [False, True])
def test_transformer_block_layer(cross_attention):
    inputs = [random_images((2, 16, 8)), random_images((2, 16), seed=1)]
    if cross_attention:
        inputs += [random_images((2, 5, 12), seed=2), np.array([[1, 1, 0, 0, 0]] * 2, "int32")]
    run_layer_test(
        layers.TransformerBlock,
        dict(num_heads=2, mlp_ratio=2, dropout=0.1, cross_attention=cross_attention, seed=3),
        inputs,
        (2, 16, 8),
    )


def test_noise_level_embedding_layer():
    logsnr = np.array([-10.0, -1.0, 0.0, 10.0], "float32")
    run_layer_test(
        layers.NoiseLevelEmbedding, dict(embedding_dim=16, frequency_dim=8), logsnr, (4, 16)
    )


def test_noise_level_embedding_takes_logsnr_in_float32_under_half_precision():
    # 5.0 and 5.01 are one bfloat16 number (its spacing at 5 is 1/32), so a
    # half-precision input could not tell them apart.
    embedding = layers.NoiseLevelEmbedding(16, dtype="mixed_bfloat16")
    out = to_np(ops.cast(embedding(np.array([5.0, 5.01], "float32")), "float32"))
    assert np.abs(out[0] - out[1]).max() > 0


def test_position_embedding_layer():
    run_layer_test(layers.PositionEmbedding, {}, random_images((2, 16, 8)), (2, 16, 8))


def test_selective_dropout_has_a_seed_generator_only_when_it_drops():
    idle = layers.SelectiveDropout(0.0, max_resolution=16)
    idle.build((2, 8, 8, 4))
    assert not hasattr(idle, "seed_generator") and not idle.non_trainable_variables
    dropping = layers.SelectiveDropout(0.1, max_resolution=16, seed=5)
    assert dropping.seed_generator is not None


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: layers.SelectiveDropout(1.0, 16), r"`rate` must be in \[0.0, 1.0\)"),
        (lambda: layers.SelectiveDropout(0.1, 0), "`max_resolution` must be at least 1"),
        (lambda: layers.SelectiveDropout(0.1, 16, resolution=8.5), "`resolution` must be an"),
        (lambda: layers.SelectiveDropout(0.1, 16, seed=-1), "`seed` must be at least 0"),
        (lambda: layers.ResidualBlock(0), "`filters` must be at least 1"),
        (lambda: layers.ResidualBlock(8, groups=None), "`groups` must be an integer"),
        (lambda: layers.TransformerBlock(2.5), "`num_heads` must be an integer"),
        (lambda: layers.TransformerBlock(2, mlp_ratio=0), "`mlp_ratio` must be at least 1"),
        (lambda: layers.NoiseLevelEmbedding(16, frequency_dim=7), "`frequency_dim` must be even"),
        (lambda: layers.NoiseLevelEmbedding(16, max_period=0), "`max_period` must be in"),
        (lambda: layers.Patchify(0), "`patch_size` must be at least 1"),
        (lambda: layers.InverseDWT53(1.5), "`levels` must be an integer"),
    ],
)
def test_layer_constructors_name_the_bad_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()
