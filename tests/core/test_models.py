import keras
import numpy as np
import pytest
from keras import ops
from layer_test_case import HALF_PRECISION_TOLERANCE, assert_policy_everywhere, to_numpy

from keras_simple_diffusion import models
from keras_simple_diffusion.layers import TransformerBlock


def inputs_for(denoiser, batch=2, seed=0):
    rng = np.random.RandomState(seed)
    inputs = {
        "images": rng.randn(
            batch, denoiser.image_size, denoiser.image_size, denoiser.channels
        ).astype("float32"),
        "noise_level": rng.uniform(-10, 10, batch).astype("float32"),
    }
    if denoiser.num_classes:
        inputs["class_labels"] = rng.randint(0, denoiser.num_classes, batch).astype("int32")
    return inputs


def perturb(denoiser, seed=0):
    """Random weights everywhere (zero-initialised output layers give zeros)."""
    rng = np.random.RandomState(seed)
    for variable in denoiser.weights:
        variable.assign(rng.normal(0, 0.05, variable.shape).astype(variable.dtype))


@pytest.mark.parametrize("cls", [models.UNet, models.UViT])
@pytest.mark.parametrize("downsample,factor", [(None, 1), ("dwt", 2), ("patch", 2)])
def test_denoiser_output_has_the_image_shape(cls, downsample, factor):
    common = dict(
        image_size=16,
        channels=3,
        widths=(8,),
        num_heads=2,
        embedding_dim=16,
        groups=4,
        downsample=downsample,
        downsample_factor=factor,
        num_classes=5,
    )
    extra = (
        dict(bottom_width=16, bottom_blocks=1)
        if cls is models.UNet
        else dict(transformer_width=16, transformer_depth=1)
    )
    denoiser = cls(num_res_blocks=1, **common, **extra)
    out = denoiser(inputs_for(denoiser))
    assert tuple(out.shape) == (2, 16, 16, 3)


@pytest.mark.parametrize("name", ["unet-tiny", "uvit-tiny"])
def test_keras_round_trip_gives_identical_outputs(name, tmp_path):
    denoiser = models.build_denoiser(name, num_classes=10)
    perturb(denoiser)
    inputs = inputs_for(denoiser)
    expected = ops.convert_to_numpy(denoiser(inputs))
    assert np.abs(expected).max() > 0
    path = str(tmp_path / "denoiser.keras")
    denoiser.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(denoiser)
    assert restored.get_config() == denoiser.get_config()
    np.testing.assert_array_equal(ops.convert_to_numpy(restored(inputs)), expected)


@pytest.mark.parametrize("name", ["unet-tiny", "uvit-tiny"])
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_denoiser_dtype_reaches_every_layer(name, policy):
    denoiser = models.build_denoiser(name, num_classes=10, dtype=policy)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is untouched
    assert denoiser.dtype_policy.name == policy
    assert_policy_everywhere(denoiser, policy)
    restored = denoiser.__class__.from_config(denoiser.get_config())
    assert restored.dtype_policy.name == policy
    assert_policy_everywhere(restored, policy)
    # Without `dtype`, the config leaves the policy to the global one at load time.
    assert models.build_denoiser(name, num_classes=10).get_config()["dtype"] is None


# The U-ViT holds every layer kind of the U-Net (residual blocks, attention,
# the embeddings) and the transformer; the eager half-precision calls are
# among the suite's slowest on JAX, so the numbers are checked on it alone.
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_half_precision_denoiser_computes_in_half_and_matches_float32(policy):
    denoiser = models.build_denoiser("uvit-tiny", num_classes=10, dtype=policy)
    half = keras.dtype_policies.get(policy).compute_dtype
    inputs = inputs_for(denoiser)
    # The same weights in float32 give the same output up to the half type's rounding.
    reference = models.build_denoiser("uvit-tiny", num_classes=10)
    perturb(reference)
    denoiser.set_weights(reference.get_weights())
    expected = to_numpy(reference(inputs))
    out = denoiser(inputs)
    assert keras.backend.standardize_dtype(out.dtype) == half
    error = np.abs(to_numpy(out) - expected).max() / np.abs(expected).max()
    assert error < HALF_PRECISION_TOLERANCE[policy], error


def test_uvit_puts_the_transformer_at_the_bottom_resolution():
    denoiser = models.build_denoiser("uvit-digits", num_classes=10)
    assert denoiser.get_layer("to_tokens").output.shape[1] == 8 * 8
    blocks = [layer for layer in denoiser.layers if isinstance(layer, TransformerBlock)]
    assert len(blocks) == models.preset_config("uvit-digits")[1]["transformer_depth"]


def test_selective_dropout_is_wired_by_resolution():
    denoiser = models.UNet(
        image_size=32,
        channels=1,
        widths=(8, 8),
        bottom_width=16,
        num_res_blocks=1,
        bottom_blocks=1,
        num_heads=2,
        embedding_dim=16,
        groups=4,
        dropout=0.2,
        dropout_max_resolution=16,
    )
    active = {
        layer.name: layer.dropout_layer.active
        for layer in denoiser.layers
        if hasattr(layer, "dropout_layer")
    }
    assert active["down_0_0"] is False  # 32 x 32
    assert active["down_1_0"] is True  # 16 x 16
    assert active["bottom_0"] is True  # 8 x 8


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(image_size=30, downsample="dwt", downsample_factor=2), "not divisible"),
        (dict(image_size=32, downsample="dwt", downsample_factor=3), "power of two"),
        (dict(image_size=32, downsample="pixelshuffle", downsample_factor=2), "Unknown downsample"),
        (dict(image_size=0), "image_size"),
    ],
)
def test_bad_denoiser_configuration_names_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.build_denoiser("uvit-tiny", **kwargs)


def test_unknown_preset():
    with pytest.raises(ValueError, match="Available presets"):
        models.build_denoiser("uvit-huge")
