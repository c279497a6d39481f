"""How far a distance ratio moves with the draw of its real sets alone, and
how much averaging over draws (`evaluate --reference-draws`) steadies it.

A perfect generator is scored as `evaluate` scores samples, once per seed
of the real sets' draws: for the emoji, real emoji of the set itself
(`retrieval.distance_metrics`, 500 of each); for Fashion-MNIST, training
images against the test split (`assessment.score_samples` with the
package's classifier, 1000 of each). With the same "samples" on every
seed, each move of the ratio is the draws'; with samples drawn anew on
each seed too, it is what a new sampling seed of a model brings.

    python -m benchmarks.fd_reference --out benchmarks/results/fd_reference
"""

import argparse
import os
import sys

from benchmarks import common

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "fd_reference")
# Each space's keys in the metrics: (real-vs-real distance, ratio).
SPACES = {
    "classifier": ("real_frechet_distance", "fd_ratio"),
    "pooled pixels": ("real_pixel_frechet_distance", "pixel_fd_ratio"),
    "patches": ("real_patch_frechet_distance", "patch_fd_ratio"),
}


def emoji_scorer(image_size, count):
    """`score(sample_seed, seed, draws)` of `count` real emoji (drawn with
    `sample_seed`) as a generator's samples."""
    from keras_simple_diffusion.data import load_dataset

    return images_scorer(load_dataset("emoji", image_size=image_size, shuffle=False).images, count)


def images_scorer(images, count):
    """`score(sample_seed, seed, draws)` of `count` of `images` (drawn with
    `sample_seed`) as a generator's samples, in the emoji's two spaces."""
    import numpy as np

    from keras_simple_diffusion.evaluation.retrieval import distance_metrics

    def score(sample_seed, seed, draws):
        samples = images[np.random.default_rng(sample_seed).permutation(len(images))[:count]]
        return distance_metrics(samples, images, seed, draws)

    return score


def fashion_scorer(count):
    """`score(sample_seed, seed, draws)` of `count` training images (drawn
    with `sample_seed`) as a generator's samples, against the test split,
    with the classifier that `evaluate` trains and caches."""
    import numpy as np

    from keras_simple_diffusion.training.assessment import reference_data, score_samples

    real, held_out, info = reference_data("fashion", 28, 1, None, max_real=10_000)

    def score(sample_seed, seed, draws):
        images = real[0]
        samples = images[np.random.default_rng(sample_seed).permutation(len(images))[:count]]
        return score_samples(
            samples, None, "fashion", real, held_out, info, reference_draws=draws, seed=seed
        )

    return score


def spread(values):
    import numpy as np

    values = np.asarray(values, dtype="float64")
    return dict(
        mean=float(values.mean()),
        std=float(values.std(ddof=1)),
        min=float(values.min()),
        max=float(values.max()),
    )


# The seed of the samples that stay the same on every seed of the draws.
FIXED_SAMPLE_SEED = 1000


def measure(name, score, seeds, draw_counts):
    """Rows of `name`: for the same samples on every seed and for samples
    drawn anew, each number of draws and each space in the metrics, the
    real-vs-real distance and the ratio over the seeds."""
    rows = []
    for samples in ("same", "new"):
        for draws in draw_counts:
            metrics = [
                score(FIXED_SAMPLE_SEED + (seed if samples == "new" else 0), seed, draws)
                for seed in range(seeds)
            ]
            for space, (real_key, ratio_key) in SPACES.items():
                if real_key not in metrics[0]:
                    continue
                rows.append(
                    dict(
                        set=name,
                        space=space,
                        samples=samples,
                        draws=draws,
                        real_vs_real=spread([m[real_key] for m in metrics]),
                        ratio=spread([m[ratio_key] for m in metrics]),
                        per_seed_ratio=[m[ratio_key] for m in metrics],
                    )
                )
                print(
                    f"[fd_reference] {name} {space} {samples} samples, {draws} draws: "
                    f"{rows[-1]['ratio']}",
                    flush=True,
                )
    return rows


def table(rows, seeds):
    lines = [
        f"A perfect generator scored on {seeds} seeds of the real sets' draws, with the "
        "same samples on each seed or new ones: the real-vs-real distance and the ratio "
        "over the seeds (mean, coefficient of variation, lowest to highest).",
        "",
        "| set | space | samples on each seed | draws | real vs real, mean | its CV | "
        "ratio, mean | its CV | ratio, lowest to highest |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        real, ratio = row["real_vs_real"], row["ratio"]
        lines.append(
            f"| {row['set']} | {row['space']} | {row['samples']} | {row['draws']} | "
            f"{real['mean']:.4g} | "
            f"{real['std'] / real['mean']:.1%} | {ratio['mean']:.3g} | "
            f"{ratio['std'] / ratio['mean']:.1%} | {ratio['min']:.3g} to {ratio['max']:.3g} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(row["set"], row["space"]) for row in rows})
    colours = {"same": "tab:blue", "new": "tab:orange"}
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), squeeze=False)
    for axis, (name, space) in zip(axes[0], panels):
        chosen = [row for row in rows if (row["set"], row["space"]) == (name, space)]
        for position, row in enumerate(chosen):
            values = row["per_seed_ratio"]
            axis.plot(
                [position] * len(values), values, "o", alpha=0.6, color=colours[row["samples"]]
            )
        labels = [f"{row['draws']}, {row['samples']}" for row in chosen]
        axis.set_xticks(range(len(chosen)), labels, fontsize=7)
        axis.set_xlabel("draws, samples on each seed")
        axis.set_title(f"{name}\n{space}", fontsize=9)
    axes[0][0].set_ylabel("FD ratio of a perfect generator")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12, help="seeds per setting")
    parser.add_argument("--draws", type=int, nargs="+", default=[1, 16])
    parser.add_argument(
        "--sets",
        nargs="+",
        default=["emoji64", "emoji128", "fashion"],
        choices=["emoji64", "emoji128", "fashion"],
    )
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    scorers = {
        "emoji64": lambda: emoji_scorer(64, 500),
        "emoji128": lambda: emoji_scorer(128, 500),
        "fashion": lambda: fashion_scorer(1000),
    }
    load_start = os.getloadavg()
    rows = [
        row for name in args.sets for row in measure(name, scorers[name](), args.seeds, args.draws)
    ]
    result = dict(
        command="python -m benchmarks.fd_reference " + " ".join(argv or sys.argv[1:]),
        rows=rows,
        load_start=list(load_start),
        load_end=list(os.getloadavg()),
        machine=common.machine_info(),
    )
    common.save_results(args.out, "fd_reference", result, table(rows, args.seeds))
    plot(rows, os.path.join(args.out, "fd_reference.png"))
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
