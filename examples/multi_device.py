"""Train on every device of the machine: data parallelism.

`configure_distribution("data")`, called before the model is built, wires
the engine of the backend: `keras.distribution` on JAX, `tf.distribute` on
TensorFlow. Build and compile the model in its `scope()`, `prepare` it, then
`fit` as usual: each batch is split over the devices. PyTorch (Keras 3.15)
has no such engine; there, and on a machine with one device, the example
trains on one.

    python examples/multi_device.py                       # all GPUs / TPU cores
    XLA_FLAGS=--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax \\
        python examples/multi_device.py                   # two CPU devices
    KSD_EXAMPLE_TINY=1 python examples/multi_device.py    # seconds

`simple-diffusion train --distribution data` does the same; `--distribution
model --mesh 4x2` also shards the large weights (JAX).
"""

import argparse
import os

import keras

import keras_simple_diffusion as ksd
from keras_simple_diffusion.backend import distribution_devices
from keras_simple_diffusion.data import load_dataset
from keras_simple_diffusion.distribution import configure_distribution

# KSD_EXAMPLE_TINY=1: a few steps of everything, to check that it runs.
TINY = os.environ.get("KSD_EXAMPLE_TINY") == "1"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4 if TINY else 1000)
    args = parser.parse_args()

    devices = distribution_devices()  # none without an engine (PyTorch)
    context = configure_distribution("data" if len(devices) > 1 else None)
    print(f"{keras.config.backend()}: {context.num_replicas} data-parallel replica(s)")

    # The global batch, split evenly over the replicas.
    batch_size = context.check_batch_size(16 * context.num_replicas)
    info = load_dataset("digits", image_size=16, batch_size=batch_size, repeat=True)
    with context.scope():
        denoiser = ksd.build_denoiser("uvit-tiny", image_size=16, num_classes=10)
        model = ksd.SimpleDiffusion(denoiser, seed=0)
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-3, use_ema=True, ema_momentum=0.99),
            jit_compile=context.jit_compile,
        )
    context.prepare(model)  # replica-aware noise under tf.distribute
    history = model.fit(info.dataset, epochs=1, steps_per_epoch=args.steps, shuffle=False)
    print(f"loss after {args.steps} steps: {history.history['loss'][-1]:.4f}")


if __name__ == "__main__":
    main()
