import keras
import numpy as np
import pytest

import keras_simple_diffusion as ksd
from keras_simple_diffusion.data import load_digits


@pytest.fixture(scope="session")
def digits():
    images, labels = load_digits(image_size=32)
    return images[:384], labels[:384]


def mean_loss(model, images, labels, repeats=2):
    return float(
        np.mean([model.evaluate(images, labels, batch_size=192, verbose=0) for _ in range(repeats)])
    )


@pytest.fixture(scope="session")
def trained(digits):
    images, labels = digits
    denoiser = ksd.build_denoiser("uvit-tiny", num_classes=10)
    model = ksd.SimpleDiffusion(denoiser, noise_d=64, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = mean_loss(model, images, labels)
    model.fit(images, labels, batch_size=32, epochs=3, verbose=0, shuffle=True)
    after = mean_loss(model, images, labels)
    return model, before, after


def test_fit_lowers_the_loss(trained):
    _, before, after = trained
    assert np.isfinite(after)
    assert after < 0.8 * before, (before, after)


def test_generate_shapes_range_and_seeds(trained):
    model, _, _ = trained
    a = model.generate(labels=[0, 1, 2], steps=6, guidance=1.5, seed=0)
    assert a.shape == (3, 32, 32, 1) and a.dtype == np.float32
    assert a.min() >= -1.0 and a.max() <= 1.0
    np.testing.assert_array_equal(
        a, model.generate(labels=[0, 1, 2], steps=6, guidance=1.5, seed=0)
    )
    assert np.abs(a - model.generate(labels=[0, 1, 2], steps=6, guidance=1.5, seed=1)).max() > 0.1
    # Batching does not change which images a seed gives within one call's order.
    ddim = model.generate(num_images=2, steps=6, sampler="ddim", seed=0, batch_size=1)
    assert ddim.shape == (2, 32, 32, 1)
    stochastic = dict(labels=[0, 1], steps=4, sampler="stochastic", seed=0)
    np.testing.assert_array_equal(model.generate(**stochastic), model.generate(**stochastic))


def test_guidance_interval_chooses_the_guided_steps(trained):
    model, _, _ = trained
    kwargs = dict(labels=[0, 1, 2], steps=6, seed=0)
    guided = model.generate(guidance=2.0, **kwargs)
    unguided = model.generate(guidance=0.0, **kwargs)
    everywhere = model.generate(guidance=2.0, guidance_interval=(-np.inf, np.inf), **kwargs)
    nowhere = model.generate(guidance=2.0, guidance_interval=(100.0, 200.0), **kwargs)
    middle = model.generate(guidance=2.0, guidance_interval=(-3.0, 3.0), **kwargs)
    np.testing.assert_array_equal(everywhere, guided)
    np.testing.assert_allclose(nowhere, unguided, atol=1e-4)
    assert np.abs(guided - unguided).max() > 0.1
    assert np.abs(middle - guided).max() > 0.01 and np.abs(middle - unguided).max() > 0.01


def test_a_model_guides_on_its_own_interval(trained, tmp_path):
    model, _, _ = trained
    kwargs = dict(labels=[0, 1, 2], steps=6, seed=0, guidance=2.0)
    config = model.get_config()
    config.update(guidance_interval=(-3.0, None))
    narrowed = ksd.SimpleDiffusion.from_config(config)
    narrowed.set_weights(model.get_weights())
    assert narrowed.guidance_interval == [-3.0, None]
    assert narrowed.resolve_guidance_interval() == [-3.0, None]
    assert narrowed.resolve_guidance_interval((None, None)) == (None, None)
    assert narrowed.resolve_guidance_interval((-1.0, 1.0)) == (-1.0, 1.0)
    np.testing.assert_array_equal(
        narrowed.generate(**kwargs), model.generate(guidance_interval=(-3.0, np.inf), **kwargs)
    )
    np.testing.assert_array_equal(
        narrowed.generate(guidance_interval=(None, None), **kwargs), model.generate(**kwargs)
    )
    path = str(tmp_path / "narrowed.keras")
    narrowed.save(path)
    assert keras.saving.load_model(path).guidance_interval == [-3.0, None]


def test_a_model_guides_with_its_own_weight_where_there_is_a_condition(trained, tmp_path):
    model, _, _ = trained
    kwargs = dict(labels=[0, 1, 2], steps=6, seed=0)
    config = model.get_config()
    assert config["guidance"] is None and model.resolve_guidance(None, 1.0) == 1.0
    config.update(guidance=2.0)
    weighted = ksd.SimpleDiffusion.from_config(config)
    weighted.set_weights(model.get_weights())
    assert weighted.resolve_guidance() == 2.0 and weighted.resolve_guidance(0.5, 1.0) == 0.5
    np.testing.assert_array_equal(
        weighted.generate(**kwargs), model.generate(guidance=2.0, **kwargs)
    )
    np.testing.assert_array_equal(
        weighted.generate(guidance=0.0, **kwargs), model.generate(**kwargs)
    )
    assert np.abs(weighted.generate(**kwargs) - model.generate(**kwargs)).max() > 0.1
    # Samples without labels have nothing to guide by: unguided, not an error.
    np.testing.assert_array_equal(
        weighted.generate(num_images=2, steps=6, seed=0),
        model.generate(num_images=2, steps=6, seed=0),
    )
    path = str(tmp_path / "weighted.keras")
    weighted.save(path)
    assert keras.saving.load_model(path).guidance == 2.0
    for bad, message in (
        (-1.0, r"`guidance` must be in \[0.0, inf\]"),
        ("2", "`guidance` must be a number"),
    ):
        with pytest.raises(ValueError, match=message):
            ksd.SimpleDiffusion.from_config({**config, "guidance": bad})


def test_the_loss_adds_the_layers_losses():
    model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-tiny", num_classes=10), seed=0)
    per_example = keras.ops.full((4,), 0.5)
    assert float(model._batch_loss(per_example, None)) == pytest.approx(0.5)
    kernel = model.denoiser.trainable_weights[0]
    kernel.regularizer = keras.regularizers.L2(0.01)
    penalty = 0.01 * float(np.sum(np.square(keras.ops.convert_to_numpy(kernel))))
    assert penalty > 0
    assert float(model._batch_loss(per_example, None)) == pytest.approx(0.5 + penalty, rel=1e-5)


def test_fit_again_after_a_fit_that_kept_an_ema(digits):
    # Keras' JAX `fit` leaves each weight and its EMA holding one array; a
    # second `fit` must still train, as it does on the other backends.
    images, labels = digits
    model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-tiny", num_classes=10), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.5))
    model.fit(images[:64], labels[:64], batch_size=32, epochs=1, verbose=0)
    first = [keras.ops.convert_to_numpy(weight) for weight in model.trainable_weights]
    history = model.fit(images[:64], labels[:64], batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4
    second = [keras.ops.convert_to_numpy(weight) for weight in model.trainable_weights]
    assert max(np.abs(a - b).max() for a, b in zip(first, second)) > 0


def test_keras_round_trip_samples_identically(trained, tmp_path):
    model, _, _ = trained
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, ksd.SimpleDiffusion)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(
        restored.generate(labels=[3, 4], steps=4, seed=5),
        model.generate(labels=[3, 4], steps=4, seed=5),
    )


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(labels=[0, 10]), r"Labels in `labels` must be below num_classes=10; found 10"),
        (dict(labels=[-1]), "must be non-negative class indices; found -1"),
        (dict(labels=[[0, 1]]), "`labels` must be a 1-D list of integers"),
        (dict(labels=[0], num_images=2), "num_images=2 does not match 1 labels"),
        (dict(labels=[0], prompts=["a"]), "not text-conditioned"),
        (
            dict(labels=[0], sampler="heun"),
            r"`sampler` must be one of \[.ancestral., .ddim., .dpmpp-2m., .dpmpp-2m-sde., .stochastic.\]",
        ),
        (dict(labels=[0], steps=0), "steps"),
        (dict(labels=[0], guidance=1.0, guidance_interval=(3, -3)), "low < high"),
        (dict(num_images=2, guidance=2.0), "guidance needs `labels`"),
        (dict(), "Pass `labels`"),
    ],
)
def test_bad_generate_arguments_name_the_problem(trained, kwargs, message):
    model, _, _ = trained
    with pytest.raises(ValueError, match=message):
        model.generate(**kwargs)


def test_bad_model_configuration_and_data_name_the_problem(digits):
    denoiser = ksd.build_denoiser("uvit-tiny", num_classes=10)
    with pytest.raises(ValueError, match="noise_d"):
        ksd.SimpleDiffusion(denoiser, noise_d=0)
    with pytest.raises(ValueError, match="weighting"):
        ksd.SimpleDiffusion(denoiser, loss_weighting="l2")
    with pytest.raises(ValueError, match="image_size=64"):
        ksd.SimpleDiffusion(denoiser, image_size=64)
    model = ksd.SimpleDiffusion(denoiser)
    model.compile(optimizer="adam")
    wrong = np.zeros((8, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match=r"expects images of shape \(batch, 32, 32, 1\)"):
        model.fit(wrong, np.zeros(8, "int32"), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="must yield \\(images, labels\\)"):
        model.fit(digits[0][:8], batch_size=4, verbose=0)


def test_loss_options_are_wired(digits):
    images, labels = digits
    denoiser = ksd.build_denoiser("unet-tiny", num_classes=10)
    for options in (
        dict(loss_weighting="sigmoid", prediction="eps"),
        dict(loss_weighting="v", prediction="x"),
    ):
        model = ksd.SimpleDiffusion(denoiser, noise_d_low=16, noise_d_high=64, seed=0, **options)
        model.compile(optimizer="adam")
        loss = model.evaluate(images[:64], labels[:64], batch_size=64, verbose=0)
        assert np.isfinite(loss)
    assert model.schedule.interpolated and not model.multiscale
    model = ksd.SimpleDiffusion(denoiser, multiscale=True, multiscale_min_size=8)
    assert model.loss_sizes == [32, 16, 8]
