"""Does a text model use its captions? The error of its denoised estimate on
real images, given each image's own caption, another image's caption, and
the empty one, at several noise levels.

    python -m benchmarks.caption_sensitivity --checkpoint runs/latest --num-images 256

A model that ignores its captions has the same error with all three; one
that uses them is best with the own caption, at the noise levels where the
image is not yet decided by the noisy pixels (low logSNR). Writes JSON.
"""

import argparse
import json
import sys

import numpy as np

LOGSNRS = (-6.0, -3.0, 0.0, 3.0)


def caption_errors(model, images, captions, logsnrs=LOGSNRS, seed=0):
    """Mean squared error of the denoised estimate x_hat at each logSNR, per
    caption kind: own, shuffled (a derangement of the captions), empty.

    Returns:
        `{logsnr: {"own": ..., "shuffled": ..., "empty": ...}}`.
    """
    import keras
    from keras import ops

    from keras_simple_diffusion.parametrization import denoised
    from keras_simple_diffusion.schedules import alpha_sigma

    rng = np.random.default_rng(seed)
    count = len(images)
    shift = rng.integers(1, count) if count > 1 else 0
    kinds = {
        "own": list(captions),
        "shuffled": list(np.roll(captions, shift)),
        "empty": [""] * count,
    }
    noise = rng.standard_normal(images.shape).astype("float32")
    results = {}
    for logsnr in logsnrs:
        alpha, sigma = (float(value) for value in alpha_sigma(np.float32(logsnr)))
        z = ops.convert_to_tensor(alpha * images + sigma * noise)
        row = {}
        for kind, prompts in kinds.items():
            condition, _ = model.conditioning.from_user(prompts=prompts)
            inputs = model._denoiser_inputs(z, ops.full((count,), logsnr), condition)
            inputs = keras.tree.map_structure(ops.convert_to_tensor, inputs)
            output = ops.cast(model.denoiser(inputs, training=False), "float32")
            x_hat, _ = denoised(model.prediction, output, z, alpha, sigma)
            row[kind] = float(np.mean((ops.convert_to_numpy(x_hat) - images) ** 2))
        results[logsnr] = row
    return results


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--num-images", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="caption_sensitivity.json")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from keras_simple_diffusion.training import runs
    from keras_simple_diffusion.training.assessment import data_for_model, run_dataset

    model, checkpoint = runs.load_checkpoint(args.checkpoint)
    source, data_dir = run_dataset(checkpoint)
    if model.text_encoder is None or source is None:
        print(
            f"error: {args.checkpoint} is not a text model with a known data set.", file=sys.stderr
        )
        return 2
    info = data_for_model(model, source, data_dir)
    order = np.random.default_rng(args.seed).permutation(len(info.images))[: args.num_images]
    captions = [info.captions[index] for index in order]
    errors = caption_errors(model, info.images[order], captions, seed=args.seed)
    result = dict(checkpoint=str(checkpoint), dataset=source, num_images=len(order), errors=errors)
    with open(args.out, "w") as file:
        json.dump(result, file, indent=2)
    for logsnr, row in errors.items():
        print(f"logSNR {logsnr:+.0f}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
