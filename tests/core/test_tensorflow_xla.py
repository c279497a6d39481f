"""XLA on TensorFlow: the package's default for training and sampling, off
with `KSD_TF_XLA=0` (which `scripts/test.sh` sets for the rest of the
suite, so this file and the CLI's tiny run are where the XLA path runs)."""

import dataclasses

import keras
import numpy as np
import pytest

import keras_simple_diffusion as ksd
from keras_simple_diffusion import backend
from keras_simple_diffusion.training.config import TrainConfig
from keras_simple_diffusion.training.trainer import build_model


@pytest.mark.parametrize("value,tensorflow", [(None, True), ("1", True), ("0", False)])
def test_the_variable_sets_the_default_jit_compile(monkeypatch, value, tensorflow):
    if value is None:
        monkeypatch.delenv(backend.TF_XLA_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(backend.TF_XLA_VARIABLE, value)
    want = tensorflow if keras.config.backend() == "tensorflow" else "auto"
    assert backend.default_jit_compile() == want


def test_a_network_faster_as_a_plain_graph_trains_without_xla(monkeypatch):
    monkeypatch.delenv(backend.TF_XLA_VARIABLE, raising=False)
    want = False if keras.config.backend() == "tensorflow" else "auto"
    assert backend.default_jit_compile(prefer_xla=False) == want


@pytest.mark.backends("tensorflow")
@pytest.mark.parametrize("model_name,xla", [("uvit-emoji", False), ("uvit-tiny", True)])
def test_a_run_compiles_its_step_as_its_preset_trains_fastest(monkeypatch, model_name, xla):
    monkeypatch.delenv(backend.TF_XLA_VARIABLE, raising=False)
    config = TrainConfig(model=model_name, batch_size=2, steps=2)
    assert build_model(config, 32, 3, None, text=True).jit_compile is xla
    explicit = build_model(dataclasses.replace(config, jit_compile=True), 32, 3, None, text=True)
    assert explicit.jit_compile is True


def test_a_bad_value_is_one_line(monkeypatch):
    monkeypatch.setenv(backend.TF_XLA_VARIABLE, "yes")
    with pytest.raises(ValueError, match=r"^KSD_TF_XLA must be 0 or 1\. Received: 'yes'$"):
        backend.tensorflow_xla()


@pytest.fixture
def model():
    denoiser = ksd.build_denoiser("uvit-tiny", num_classes=10)
    return ksd.SimpleDiffusion(denoiser, noise_d=16, seed=0)


@pytest.mark.backends("tensorflow")
def test_sampling_compiles_with_xla_by_default(monkeypatch, model):
    monkeypatch.delenv(backend.TF_XLA_VARIABLE, raising=False)
    kwargs = dict(labels=[1, 2], steps=3, guidance=1.0, seed=4)
    images = model.generate(**kwargs)
    (function,) = model._generate_functions.values()
    assert function._jit_compile is True
    assert np.isfinite(images).all() and np.abs(images).max() <= 1.0
    np.testing.assert_array_equal(images, model.generate(**kwargs))


@pytest.mark.backends("tensorflow")
def test_xla_and_graph_compute_the_same_denoiser(model):
    # Only the network: TensorFlow's random numbers differ with and without
    # XLA, so one seed draws different images.
    rng = np.random.RandomState(0)
    for variable in model.denoiser.weights:  # the zero-initialised layers too
        variable.assign(rng.normal(0, 0.1, variable.shape).astype(variable.dtype))
    inputs = {
        "images": rng.normal(size=(2, 32, 32, 1)).astype("float32"),
        "noise_level": np.array([-2.0, 3.0], "float32"),
        "class_labels": np.array([1, 7], "int32"),
    }
    outputs = [
        backend.compile_inference(model, model.denoiser, jit_compile=jit)(inputs)
        for jit in (True, False)
    ]
    xla, graph = (keras.ops.convert_to_numpy(output) for output in outputs)
    assert np.abs(graph).max() > 0.01
    np.testing.assert_allclose(xla, graph, atol=1e-4)
