"""Train simple diffusion on in-memory arrays with the Python API.

The `simple-diffusion` command covers dataset specs ("digits", "tfds:...",
folders, .npz). From Python, any arrays or `tf.data.Dataset` work the same
way through `load_dataset`, and the training callbacks of the command
(EMA sample grids, EMA checkpoints, NaN-safe backups) plug into `fit`.

    python examples/train_on_arrays.py --steps 200 --out /tmp/arrays_run
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--out", default="arrays_run")
    args = parser.parse_args()

    # Any (images, labels) arrays: uint8 in [0, 255] or float in [-1, 1].
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
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, use_ema=True, ema_momentum=0.98))
    period = args.steps // 2
    model.fit(
        info.dataset,
        epochs=args.steps // period,
        steps_per_epoch=period,
        shuffle=False,
        callbacks=[
            keras.callbacks.TerminateOnNaN(),
            NaNSafeBackupAndRestore(os.path.join(args.out, "backup")),
            EMACheckpoint(os.path.join(args.out, "checkpoints"), every=period),
            SampleGrid(os.path.join(args.out, "samples"), every=period, labels=list(range(10))),
        ],
    )
    samples = model.generate(labels=[0, 1, 2, 3], steps=64, guidance=1.0, seed=0)
    print("wrote", save_samples(samples, os.path.join(args.out, "final.png")))


if __name__ == "__main__":
    main()
