"""A text model's samples, each captioned with its prompt, above the real
image of that caption: the README's figure of a text-to-image run.

    python -m benchmarks.prompt_grid --checkpoint runs/latest --dataset emoji --count 8 \
        --guidance 3 --out docs/images/emoji64.png

The prompts are `--count` captions of the data set, drawn with `--seed` (or
given with `--prompt`, repeated); the sampler and its steps are the CLI's
defaults unless told.
"""

import argparse
import sys
import textwrap

import numpy as np

# Characters per caption line, for images about 1.2 inches wide.
CAPTION_WIDTH = 18


def choose_prompts(captions, count, seed):
    """`count` distinct captions, in a seeded order, with their indices."""
    if not 1 <= count <= len(captions):
        raise ValueError(f"--count must be in [1, {len(captions)}]. Received: {count}.")
    indices = np.random.default_rng(seed).permutation(len(captions))[:count]
    return [str(captions[index]) for index in indices], indices


def draw(samples, prompts, path, real_images=None, columns=8):
    """Saves `samples` (N, H, W, C) in [-1, 1] as a grid, each under its
    prompt, with its real image below it when given."""
    from matplotlib.figure import Figure

    def show(axes, image):
        image = np.clip((np.asarray(image) + 1.0) / 2.0, 0.0, 1.0)
        axes.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        axes.set_xticks([])
        axes.set_yticks([])

    columns = min(columns, len(samples))
    rows = -(-len(samples) // columns)
    per_item = 1 if real_images is None else 2
    figure = Figure(figsize=(1.3 * columns, 1.75 * rows * per_item), layout="constrained")
    grid = figure.subplots(rows * per_item, columns, squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for index, (sample, prompt) in enumerate(zip(samples, prompts)):
        row, column = divmod(index, columns)
        axes = grid[row * per_item, column]
        axes.axis("on")
        show(axes, sample)
        axes.set_title("\n".join(textwrap.wrap(prompt, CAPTION_WIDTH)[:3]), fontsize=7)
        if real_images is not None:
            axes = grid[row * per_item + 1, column]
            axes.axis("on")
            show(axes, real_images[index])
            axes.set_xlabel("real", fontsize=7)
    figure.savefig(path, dpi=100)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a run folder or a .keras file")
    parser.add_argument("--dataset", default=None, help="the captions' source (default: the run's)")
    parser.add_argument("--prompt", action="append", default=None, help="a prompt; repeat")
    parser.add_argument("--count", type=int, default=8, help="captions drawn from the data")
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--sampler", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0, help="draws the prompts and the noise")
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--out", default="prompt_grid.png")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from keras_simple_diffusion.training import runs
    from keras_simple_diffusion.training.assessment import data_for_model, run_dataset

    model, checkpoint = runs.load_checkpoint(args.checkpoint)
    if model.text_encoder is None:
        print(f"error: {args.checkpoint} is not a text-conditioned model.", file=sys.stderr)
        return 2
    real_images = None
    if args.prompt:
        prompts = args.prompt
    else:
        source, data_dir = run_dataset(checkpoint)
        if args.dataset is None and source is None:
            print(f"error: {checkpoint} names no data set; pass --dataset.", file=sys.stderr)
            return 2
        info = data_for_model(model, args.dataset or source, None if args.dataset else data_dir)
        if info.captions is None:
            print(f"error: {args.dataset or source} has no captions.", file=sys.stderr)
            return 2
        try:
            prompts, indices = choose_prompts(info.captions, args.count, args.seed)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        real_images = info.images[indices]
    samples = model.generate(
        prompts=prompts,
        steps=args.steps,
        sampler=args.sampler,
        guidance=args.guidance,
        seed=args.seed,
    )
    draw(samples, prompts, args.out, real_images, args.columns)
    print(f"Wrote {args.out}: {len(prompts)} prompts, guidance {args.guidance}, seed {args.seed}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
