"""Distil a trained model into a few-step sampler (progressive distillation).

Each round trains a student to match two DDIM steps of its teacher with one,
halving the sampling steps; `ksd.distill` runs the rounds down to
`target_steps`. The result is an ordinary `SimpleDiffusion` that samples in
that many DDIM steps by default. The training data are the teacher's kind:
images with labels for a class-conditional teacher.

    python examples/train_on_arrays.py --out arrays_run
    python examples/distill.py arrays_run/model.keras --out distilled_run
    KSD_EXAMPLE_TINY=1 python examples/distill.py CHECKPOINT --out /tmp/z   # seconds

The command does the same with a run folder per round (checkpoints, sample
grids, resume): `simple-diffusion distill --checkpoint runs/latest --steps 8`.
"""

import argparse
import os

import keras_simple_diffusion as ksd
from keras_simple_diffusion.data import load_dataset, load_digits
from keras_simple_diffusion.training import load_checkpoint, save_samples

# KSD_EXAMPLE_TINY=1: a few steps of everything, to check that it runs.
TINY = os.environ.get("KSD_EXAMPLE_TINY") == "1"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="the teacher: a run folder or a .keras file")
    parser.add_argument("--out", default="distilled_run")
    args = parser.parse_args()

    teacher, _ = load_checkpoint(args.checkpoint)
    images, labels = load_digits(image_size=teacher.image_size)
    info = load_dataset((images, labels), batch_size=32, repeat=True)

    student = ksd.distill(
        teacher,
        info.dataset,
        # The teacher samples in 128 steps; each round halves them: 128 -> 64 -> ... -> 8.
        teacher_steps=8 if TINY else 128,
        target_steps=2 if TINY else 8,
        steps_per_round=2 if TINY else 500,
        shuffle=False,  # the dataset is shuffled already
    )
    student.save(os.path.join(args.out, "model.keras"))
    samples = student.generate(labels=list(range(10)), guidance=1.0, seed=0)  # its DDIM steps
    print(f"the student samples in {student.sampling_steps} steps")
    print("wrote", save_samples(samples, os.path.join(args.out, "samples.png")))


if __name__ == "__main__":
    main()
