"""JAX and PyTorch users need no TensorFlow to build, train and sample a
model from arrays (a GPU image without it, say): only the data pipelines
and the text tokenizers import it. Checked in a fresh interpreter in which
importing TensorFlow fails, as it does where it is not installed."""

import os
import subprocess
import sys
import textwrap

import keras
import pytest

SCRIPT = textwrap.dedent(
    """
    import importlib.abc
    import importlib.machinery
    import sys

    class Absent(importlib.abc.Loader):
        def create_module(self, spec):
            raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)

        def exec_module(self, module):
            pass

    # Imports of TensorFlow fail as where it is not installed; the spec has
    # no origin, so that probes such as torch's find nothing to skip.
    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                return importlib.machinery.ModuleSpec(name, Absent(), origin=None)
            return None

    sys.meta_path.insert(0, NoTensorFlow())

    import keras
    import numpy as np

    import keras_simple_diffusion as ksd

    images = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 3)).astype("float32")
    model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-tiny", image_size=16, channels=3), seed=0)
    model.compile(optimizer="adam")
    history = model.fit(images, batch_size=4, epochs=1, verbose=0)
    samples = keras.ops.convert_to_numpy(model.generate(num_images=2, steps=2, seed=0))
    assert np.isfinite(history.history["loss"][-1]) and samples.shape == (2, 16, 16, 3)
    assert "tensorflow" not in sys.modules
    print("trained and sampled without tensorflow")
    """
)


@pytest.mark.backends("jax", "torch")
def test_a_model_trains_and_samples_without_tensorflow():
    environment = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trained and sampled without tensorflow" in result.stdout
