"""Train simple diffusion on your own arrays with the Python API.

Any `(images, labels)` arrays work: images (N, H, W, C) as uint8 in
[0, 255] or floats in [-1, 1], labels (N,) class ids 0..K-1 (or no labels).
Here they are the embedded digits: put yours in their place. The training
callbacks of `simple-diffusion train` (EMA checkpoints, EMA sample grids,
NaN-safe backups) plug into Keras' `fit`.

    python examples/train_on_arrays.py --out arrays_run
    KSD_EXAMPLE_TINY=1 python examples/train_on_arrays.py --out /tmp/x   # seconds

Writes OUT/model.keras, which examples/fine_tune.py and examples/distill.py
start from, OUT/checkpoints/, OUT/samples/ and OUT/final.png.
"""

import argparse
import os

import keras
import numpy as np

import keras_simple_diffusion as ksd
from keras_simple_diffusion.data import load_dataset, load_digits
from keras_simple_diffusion.training import (
    EMACheckpoint,
    NaNSafeBackupAndRestore,
    SampleGrid,
    save_samples,
)

# KSD_EXAMPLE_TINY=1: a few steps of everything, to check that it runs.
TINY = os.environ.get("KSD_EXAMPLE_TINY") == "1"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2 if TINY else 2000)
    parser.add_argument("--out", default="arrays_run")
    args = parser.parse_args()
    sampling_steps = 2 if TINY else 64

    # Your arrays here. `load_dataset` checks them and batches them as a
    # repeating, shuffled tf.data pipeline of images in [-1, 1].
    images, labels = load_digits(image_size=16)
    pixels = np.round((images + 1.0) * 127.5).astype("uint8")
    info = load_dataset((pixels, labels), batch_size=32, repeat=True)

    denoiser = ksd.build_denoiser(
        "uvit-tiny",
        image_size=info.image_size,
        channels=info.channels,
        num_classes=info.num_classes,
    )
    model = ksd.SimpleDiffusion(denoiser, seed=0)
    # Samples come from the EMA of the weights; a short run needs a short
    # memory (0.99 averages about the last 100 steps).
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, use_ema=True, ema_momentum=0.99))

    # `fit` runs in periods; checkpoints and grids come at period ends.
    period = max(args.steps // 4, 1)
    model.fit(
        info.dataset,
        epochs=args.steps // period,
        steps_per_epoch=period,
        shuffle=False,  # the dataset is shuffled already
        callbacks=[
            keras.callbacks.TerminateOnNaN(),
            NaNSafeBackupAndRestore(os.path.join(args.out, "backup")),
            EMACheckpoint(os.path.join(args.out, "checkpoints"), every=period),
            SampleGrid(
                os.path.join(args.out, "samples"),
                every=period,
                labels=list(range(10)),
                steps=sampling_steps,
                guidance=1.0,
            ),
        ],
    )
    # After `fit`, Keras has put the EMA weights into the model.
    model.save(os.path.join(args.out, "model.keras"))
    samples = model.generate(labels=list(range(10)), steps=sampling_steps, guidance=1.0, seed=0)
    print("wrote", save_samples(samples, os.path.join(args.out, "final.png")))


if __name__ == "__main__":
    main()
