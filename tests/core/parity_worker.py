"""Run by test_parity in a subprocess with another KERAS_BACKEND: loads the
`.keras` files written by the parent, runs the denoisers on the saved inputs
and samples, and writes the results next to them."""

import sys

import keras
import numpy as np

import keras_simple_diffusion  # noqa: F401  (registers the classes for loading)


def main(directory):
    results = {}
    for name in ("unet", "uvit"):
        model = keras.saving.load_model(f"{directory}/{name}.keras")
        inputs = dict(np.load(f"{directory}/inputs.npz"))
        # One compiled call: JAX's eager calls compile op by op.
        results[f"{name}_output"] = model.denoiser.predict_on_batch(inputs)
        results[f"{name}_samples"] = model.generate(labels=[1, 2], steps=4, guidance=1.0, seed=0)
    np.savez(f"{directory}/{keras.config.backend()}.npz", **results)


if __name__ == "__main__":
    main(sys.argv[1])
