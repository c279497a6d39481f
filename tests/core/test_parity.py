"""The same weights give the same numbers on JAX, TensorFlow and PyTorch, and a
`.keras` file saved on this backend loads and samples on the next one.

The suite runs once per backend, so the pairs form a cycle (JAX -> TensorFlow
-> PyTorch -> JAX): every backend saves for one other and loads from one
other, and the numbers of all three agree within the tolerance."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_simple_diffusion as ksd

BACKENDS = ("jax", "tensorflow", "torch")


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    directory = tmp_path_factory.mktemp("parity")
    rng = np.random.RandomState(0)
    inputs = {
        "images": rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32"),
        "noise_level": np.array([-3.0, 4.0], "float32"),
        "class_labels": np.array([1, 7], "int32"),
    }
    np.savez(directory / "inputs.npz", **inputs)
    outputs = {}
    for name in ("unet", "uvit"):
        denoiser = ksd.build_denoiser(f"{name}-tiny", num_classes=10)
        for variable in denoiser.weights:  # random weights everywhere, zero-init layers included
            variable.assign(rng.normal(0, 0.1, variable.shape).astype(variable.dtype))
        model = ksd.SimpleDiffusion(denoiser, noise_d=64)
        model.save(str(directory / f"{name}.keras"))
        outputs[name] = keras.ops.convert_to_numpy(denoiser(inputs))
    return directory, outputs


@pytest.mark.multibackend
def test_next_backend_loads_and_gives_the_same_outputs(saved_models):
    directory, outputs = saved_models
    other = BACKENDS[(BACKENDS.index(keras.config.backend()) + 1) % len(BACKENDS)]
    worker = os.path.join(os.path.dirname(__file__), "parity_worker.py")
    env = {**os.environ, "KERAS_BACKEND": other}
    completed = subprocess.run(
        [sys.executable, worker, str(directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = np.load(directory / f"{other}.npz")
    for name, expected in outputs.items():
        assert np.abs(expected).max() > 0.01
        np.testing.assert_allclose(results[f"{name}_output"], expected, atol=1e-4, rtol=0)
        samples = results[f"{name}_samples"]
        assert samples.shape == (2, 32, 32, 1) and np.all(np.isfinite(samples))
        assert samples.min() >= -1 and samples.max() <= 1
