"""The Python API refuses nonsense with one-line errors, and a failed `fit`
or `save` loses nothing. Tiny 16 px models; run on every backend."""

import os

import keras
import numpy as np
import pytest

import keras_simple_diffusion as ksd
from keras_simple_diffusion.diffusion import NonFiniteSamples, SimpleDiffusion

IMAGE_SIZE = 16
LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 1], "int32")


def class_model(**kwargs):
    denoiser = ksd.build_denoiser("uvit-tiny", image_size=IMAGE_SIZE, num_classes=3)
    model = ksd.SimpleDiffusion(denoiser, seed=0, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def images(count=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (count, IMAGE_SIZE, IMAGE_SIZE, 1)).astype("float32")


@pytest.fixture(scope="module")
def model():
    return class_model()


# generate


@pytest.mark.parametrize("guidance", [float("nan"), float("inf")])
def test_generate_refuses_non_finite_guidance(model, guidance):
    with pytest.raises(ValueError, match=r"`guidance` must be finite"):
        model.generate(labels=[0], steps=2, guidance=guidance, seed=0)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(steps="4"), r"`steps` must be an integer\. Received: steps='4'"),
        (dict(steps=float("nan")), r"`steps` must be an integer\. Received: steps=nan"),
        (dict(num_images=-2, labels=None), r"`num_images` must be at least 0\. Received"),
        (dict(batch_size=-1), r"`batch_size` must be at least 1\. Received: batch_size=-1"),
        (dict(seed=-3), r"`seed` must be at least 0"),
    ],
)
def test_generate_refuses_bad_numbers(model, kwargs, message):
    arguments = dict(labels=[0, 1], steps=2, seed=0)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        model.generate(**arguments)


def test_generate_with_no_labels_returns_no_images(model):
    out = model.generate(labels=[], steps=2, seed=0)
    assert out.shape == (0, IMAGE_SIZE, IMAGE_SIZE, 1) and out.dtype == np.float32


def test_generate_refuses_to_return_non_finite_images():
    model = class_model()
    kernel = model.denoiser.get_layer("output_conv").kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    with pytest.raises(NonFiniteSamples, match=r"non-finite pixel.*weights hold NaN or inf"):
        model.generate(labels=[0, 1], steps=2, seed=0)


def test_generate_reports_progress_after_each_batch(model):
    calls = []
    arguments = dict(labels=[0, 1, 2, 0, 1], steps=2, seed=4, batch_size=2)
    shown = model.generate(**arguments, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 5), (4, 5), (5, 5)]
    np.testing.assert_array_equal(shown, model.generate(**arguments))


@pytest.mark.parametrize("noise_d", [float("nan"), "64"])
def test_model_refuses_a_bad_noise_d(noise_d):
    denoiser = ksd.build_denoiser("uvit-tiny", image_size=IMAGE_SIZE)
    with pytest.raises(ValueError, match="`noise_d` must be"):
        ksd.SimpleDiffusion(denoiser, noise_d=noise_d)


# fit: the data is checked before Keras traces a step


@pytest.mark.parametrize(
    "labels,message",
    [
        (np.array([-1, 1, 2, 0, 1, 2, 0, 1]), "must be non-negative class indices; found -1"),
        (np.array([7, 1, 2, 0, 1, 2, 0, 1]), "must be below num_classes=3; found 7"),
        (LABELS.astype("float32"), "must be integer class indices"),
        (LABELS[:, None], r"Class labels must have shape \(batch,\)"),
    ],
)
def test_fit_refuses_bad_labels(labels, message):
    model = class_model()
    with pytest.raises(ValueError, match=message):
        model.fit(images(), labels, batch_size=4, verbose=0)


def test_fit_refuses_uint8_pixels():
    model = class_model()
    pixels = ((images() + 1) * 127.5).astype("uint8")
    with pytest.raises(ValueError, match=r"look like \[0, 255\] pixel values"):
        model.fit(pixels, LABELS, batch_size=4, verbose=0)


def test_fit_refuses_non_finite_pixels():
    model = class_model()
    pixels = images()
    pixels[3, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        model.fit(pixels, LABELS, batch_size=4, verbose=0)


def test_fit_checks_a_tf_dataset_before_training():
    import tensorflow as tf

    model = class_model()
    wrong_size = tf.data.Dataset.from_tensor_slices(
        (np.zeros((8, 28, 28, 1), "float32"), LABELS)
    ).batch(4)
    with pytest.raises(ValueError, match=r"expects images of shape \(batch, 16, 16, 1\)"):
        model.fit(wrong_size, verbose=0)
    out_of_range = tf.data.Dataset.from_tensor_slices((images(), LABELS + 5)).batch(4)
    with pytest.raises(ValueError, match="below num_classes=3"):
        model.fit(out_of_range, verbose=0)


def test_fit_checks_a_generator_without_losing_its_first_batch():
    model = class_model()

    def batches(labels):
        for start in (0, 4):
            yield images()[start : start + 4], labels[start : start + 4]

    with pytest.raises(ValueError, match="found 9"):
        model.fit(batches(LABELS + np.array([9, 0, 0, 0, 0, 0, 0, 0])), verbose=0)

    seen = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(1))
    model.fit(batches(LABELS), verbose=0, callbacks=[counter])
    assert len(seen) == 2


def test_fit_refuses_tokens_of_another_length():
    pytest.importorskip("keras_hub")
    model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-text-tiny", image_size=IMAGE_SIZE))
    model.compile(optimizer="adam")
    tokens = model.tokenize(["a red circle", ""] * 4)
    short = {key: value[:, :10] for key, value in tokens.items()}
    rgb = np.repeat(images(), 3, axis=-1)
    with pytest.raises(ValueError, match=r"`token_ids` must have shape \(batch, 48\)"):
        model.fit(rgb, short, batch_size=4, verbose=0)


# A failed fit leaves the model usable.


@pytest.mark.parametrize("failure", ["image_shape", "sample_weight"])
def test_failed_fit_leaves_the_model_usable(failure, tmp_path):
    model = class_model()
    if failure == "image_shape":  # refused before Keras traces a step
        with pytest.raises(ValueError, match="expects images of shape"):
            model.fit(np.zeros((8, 28, 28, 1), "float32"), LABELS, batch_size=4, verbose=0)
    else:  # fails inside Keras' first step
        with pytest.raises(Exception):  # noqa: B017 (the backends raise different types)
            model.fit(images(), LABELS, sample_weight=np.ones((8, 2)), batch_size=4, verbose=0)
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights)
    history = model.fit(images(), LABELS, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    samples = model.generate(labels=[0, 1], steps=2, seed=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(restored.generate(labels=[0, 1], steps=2, seed=0), samples)


def test_evaluate_checks_the_data_and_survives_a_failure():
    model = class_model()
    with pytest.raises(ValueError, match="must be below num_classes=3; found 7"):
        model.evaluate(images(), np.full(8, 7), batch_size=4, verbose=0)
    with pytest.raises(Exception):  # noqa: B017 (the backends raise different types)
        model.evaluate(images(), LABELS, sample_weight=np.ones((8, 2)), batch_size=4, verbose=0)
    assert np.isfinite(model.evaluate(images(), LABELS, batch_size=4, verbose=0))
    assert model.generate(labels=[0], steps=2, seed=0).shape == (1, IMAGE_SIZE, IMAGE_SIZE, 1)


# save


def test_failed_save_keeps_the_earlier_file(tmp_path, monkeypatch):
    model = class_model()
    path = str(tmp_path / "model.keras")
    model.save(path)
    size = os.path.getsize(path)

    def broken_config(self):
        raise RuntimeError("cannot serialise")

    monkeypatch.setattr(SimpleDiffusion, "get_config", broken_config)
    with pytest.raises(RuntimeError, match="cannot serialise"):
        model.save(path)
    monkeypatch.undo()
    assert os.path.getsize(path) == size
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]
    assert isinstance(keras.saving.load_model(path), SimpleDiffusion)
