"""Text to image on the embedded captioned shapes: train, sample, measure.

The Python form of

    simple-diffusion train --dataset shapes     # 6000 steps by default
    simple-diffusion sample --checkpoint runs/latest --prompt "a large red circle at the top left"
    simple-diffusion evaluate --checkpoint runs/latest --guidance 3

On captioned data `train` builds the "uvit-shapes-text" U-ViT: a byte-level
keras-hub T5 encoder, trained jointly, read by cross-attention. The measure
reads shape, colour and position from each sample with three small
classifiers trained on the generator's labelled drawings, and reports the
fraction of prompts whose every attribute matches, next to the same figure
on real drawings (the readers' ceiling).

    python examples/text_to_image.py --out text_runs
    KSD_EXAMPLE_TINY=1 python examples/text_to_image.py --out /tmp/t   # seconds

Everything runs offline; nothing is downloaded.
"""

import argparse
import os

from keras_simple_diffusion.evaluation import adherence
from keras_simple_diffusion.training import TrainConfig, save_samples, train

# KSD_EXAMPLE_TINY=1: a few steps of everything, to check that it runs.
TINY = os.environ.get("KSD_EXAMPLE_TINY") == "1"
if TINY:  # 64 drawings at 16 x 16 px, the smallest text model
    CONFIG = TrainConfig(
        dataset="shapes:64",
        model="uvit-text-tiny",
        image_size=16,
        steps=2,
        batch_size=16,
        sample_every=2,
        checkpoint_every=2,
        sample_steps=2,
    )
    READERS, SAMPLING_STEPS, NUM_PROMPTS = dict(num_images=64, epochs=1), 2, 8
else:
    CONFIG = TrainConfig(dataset="shapes")
    READERS, SAMPLING_STEPS, NUM_PROMPTS = {}, 64, 256
GUIDANCE = 3.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs", help="parent of the run folder")
    args = parser.parse_args()

    model, run_dir = train(CONFIG, runs_root=args.out)
    prompts = ["a large red circle at the top left", "a small blue square at the bottom right"]
    images = model.generate(prompts=prompts * 4, guidance=GUIDANCE, steps=SAMPLING_STEPS, seed=0)
    print("wrote", save_samples(images, os.path.join(run_dir, "prompts.png"), columns=2))

    readers = adherence.train_attribute_classifiers(image_size=model.image_size, **READERS)
    prompts = adherence.adherence_prompts(NUM_PROMPTS, image_size=model.image_size)
    for guidance in (GUIDANCE, 0.0):
        samples = model.generate(prompts=prompts, guidance=guidance, steps=SAMPLING_STEPS, seed=0)
        score = adherence.prompt_adherence(readers, samples, prompts)["all"]
        print(f"prompt adherence, guidance {guidance:g}: {score:.1%}")
    real = adherence.real_image_adherence(readers, image_size=model.image_size)["all"]
    print(f"real drawings: {real:.1%}")


if __name__ == "__main__":
    main()
