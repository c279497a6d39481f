"""Text-to-image on the embedded captioned shapes: train, sample, measure.

The Python form of

    simple-diffusion train --dataset shapes     # 6000 steps by default, about 1.7 hours on 2 CPU cores (README)
    simple-diffusion sample --checkpoint runs/latest --prompt "a large red circle at the top left"
    simple-diffusion evaluate --checkpoint runs/latest --guidance 3

`train` builds the "uvit-shapes-text" U-ViT (a byte-level keras-hub T5
encoder trained jointly, cross-attention in the bottom transformer blocks)
for the captions; the evaluation reads shape, colour and position from each
sample with three small classifiers trained on the generator's labelled
images and reports the fraction matching the prompt, with and without
guidance, next to the same figure on real images.

    python examples/text_to_image.py             # or --steps N

Everything runs offline; nothing is downloaded.
"""

import argparse
import json

from keras_simple_diffusion.training import TrainConfig, save_samples, train
from keras_simple_diffusion.training.assessment import evaluate_prompt_adherence


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--num-samples", type=int, default=256, help="prompts to score")
    parser.add_argument("--sampling-steps", type=int, default=64)
    args = parser.parse_args()

    model, run_dir = train(TrainConfig(dataset="shapes", steps=args.steps))
    prompts = ["a large red circle at the top left", "a small blue square at the bottom right"]
    images = model.generate(
        prompts=prompts * 4, guidance=args.guidance, steps=args.sampling_steps, seed=0
    )
    save_samples(images, f"{run_dir}/prompts.png", columns=2)

    metrics, report = evaluate_prompt_adherence(
        model, num_samples=args.num_samples, steps=args.sampling_steps, guidance=args.guidance
    )
    with open(f"{run_dir}/evaluation.json", "w") as file:
        json.dump(metrics, file, indent=2)
    print(report)


if __name__ == "__main__":
    main()
