"""Fine-tune a trained model on new images, starting from its checkpoint.

A checkpoint (a run folder, `runs/latest` or a `.keras` file) loads as a
`SimpleDiffusion` on any backend; compile it again and `fit` on the new
images. They must have the model's size, channels and classes. Here the
new images are the digits in mirror writing (flipped left to right), a
domain the model has not seen: its samples learn to face the other way.

    python examples/train_on_arrays.py --out arrays_run
    python examples/fine_tune.py arrays_run/model.keras --out mirrored_run
    KSD_EXAMPLE_TINY=1 python examples/fine_tune.py CHECKPOINT --out /tmp/y   # seconds
"""

import argparse
import os

import keras

from keras_simple_diffusion.data import load_dataset, load_digits
from keras_simple_diffusion.training import load_checkpoint, save_samples

# KSD_EXAMPLE_TINY=1: a few steps of everything, to check that it runs.
TINY = os.environ.get("KSD_EXAMPLE_TINY") == "1"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a run folder, runs/latest or a .keras file")
    parser.add_argument("--steps", type=int, default=4 if TINY else 500)
    parser.add_argument("--out", default="fine_tuned_run")
    args = parser.parse_args()

    model, checkpoint = load_checkpoint(args.checkpoint)
    print(f"fine-tuning {checkpoint}")

    # The new images, at the model's size and channels, flipped left to right.
    images, labels = load_digits(image_size=model.image_size)
    info = load_dataset((images[:, :, ::-1], labels), batch_size=32, repeat=True)

    # A smaller learning rate than training from scratch, so that the model
    # adapts rather than starts over; EMA as in training.
    model.compile(optimizer=keras.optimizers.AdamW(1e-4, use_ema=True, ema_momentum=0.99))
    model.fit(info.dataset, epochs=1, steps_per_epoch=args.steps, shuffle=False)
    model.save(os.path.join(args.out, "model.keras"))

    samples = model.generate(labels=list(range(10)), steps=2 if TINY else 64, seed=0)
    print("wrote", save_samples(samples, os.path.join(args.out, "samples.png")))


if __name__ == "__main__":
    main()
