"""The sampler scan of the interpolated-schedule Fashion-MNIST runs as a table
(front.md, front.json) and a plot (front.png): each setting's FD ratio in the
classifier's features against pooled pixels, per training seed, next to the
bar (<= 1.2 in both). Reads the `evaluate` JSON files of this folder (named
s{seed}_{setting}.json) and the default setting's scores one folder up.

    python benchmarks/results/fashion_unet/interpolated/sampler_scan/front.py
"""

import glob
import json
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BAR = 1.2
# The settings summed up over seeds: scored on four training seeds and two sampling seeds.
SUMMED_SCORINGS = 8
# The adopted default (dpmpp-2m-sde, 32 steps, guidance 1 on [-2, 2.5]), scored before this
# scan: (training seed, file one folder up).
DEFAULT_FILES = [
    (0, "s0/evaluation_g1.json"),
    (1, "s1/evaluation_g1.json"),
    (2, "s2/evaluation_g1.json"),
    (3, "new_default_s3/evaluation.json"),
    (0, "new_default_s3/interp_s0_g1_seed1.json"),
    (1, "new_default_s3/interp_s1_g1_seed1.json"),
    (2, "new_default_s3/interp_s2_g1_seed1.json"),
]


def setting_of(metrics):
    interval = metrics["guidance_interval"] or ["none", "none"]
    return (
        f"{metrics['sampler']} {metrics['steps']}, guidance {metrics['guidance']:g} "
        f"on [{interval[0]:g}, {interval[1]:g}], sampling seed {metrics['seed']}"
    )


def read_scores():
    scores = []
    for seed, name in DEFAULT_FILES:
        scores.append((seed, json.load(open(os.path.join(HERE, "..", name)))))
    for path in sorted(glob.glob(os.path.join(HERE, "s*_*.json"))):
        seed = int(re.match(r"s(\d+)_", os.path.basename(path)).group(1))
        scores.append((seed, json.load(open(path))))
    return scores


def pooled_over_seeds(rows):
    """Per setting scored on more than one sampling seed: the mean of each
    space and of the worse of the two, and how many scorings meet the bar."""
    pooled = {}
    for setting, cells in rows.items():
        base = setting.rsplit(", sampling seed", 1)[0]
        pooled.setdefault(base, []).extend(cells.values())
    lines = [
        "| setting | scorings | classifier, mean (range) | pooled pixels, mean (range) "
        "| worse space, mean | both <= 1.2 |",
        "|---|---|---|---|---|---|",
    ]
    for base, cells in pooled.items():
        if len(cells) < SUMMED_SCORINGS:
            continue
        classifier = [cell[1] for cell in cells]
        pixels = [cell[2] for cell in cells]
        worse = [max(pair) for pair in zip(classifier, pixels)]
        meets = sum(value <= BAR for value in worse)
        lines.append(
            f"| {base} | {len(cells)} | {sum(classifier) / len(cells):.2f} "
            f"({min(classifier):.2f}-{max(classifier):.2f}) | {sum(pixels) / len(cells):.2f} "
            f"({min(pixels):.2f}-{max(pixels):.2f}) | {sum(worse) / len(cells):.2f} | {meets} |"
        )
    return lines


def main():
    rows = {}
    for seed, metrics in read_scores():
        cell = (metrics["class_accuracy"], metrics["fd_ratio"], metrics["pixel_fd_ratio"])
        rows.setdefault(setting_of(metrics), {})[seed] = cell
    seeds = sorted({seed for cells in rows.values() for seed in cells})
    lines = [
        "| setting | " + " | ".join(f"training seed {seed}" for seed in seeds) + " |",
        "|---|" + "---|" * len(seeds),
    ]
    for setting, cells in rows.items():
        text = [
            f"{cells[seed][0]:.1%}, {cells[seed][1]:.2f} / {cells[seed][2]:.2f}"
            if seed in cells
            else "-"
            for seed in seeds
        ]
        lines.append(f"| {setting} | " + " | ".join(text) + " |")
    with open(os.path.join(HERE, "front.md"), "w") as file:
        file.write(
            "Class accuracy, FD ratio classifier / pooled pixels; 1000 samples, "
            "the test split.\n\n"
            + "\n".join(lines)
            + "\n\nOver training seeds 0-3 and sampling seeds 0-1:\n\n"
            + "\n".join(pooled_over_seeds(rows))
            + "\n"
        )
    with open(os.path.join(HERE, "front.json"), "w") as file:
        json.dump(
            {setting: {str(s): c for s, c in cells.items()} for setting, cells in rows.items()},
            file,
            indent=2,
        )
    figure, axes = plt.subplots(figsize=(12, 5))
    axes.fill_between([0.8, BAR], 0.8, BAR, color="tab:green", alpha=0.15, label="the bar")
    markers = "os^vD<>pP*Xhd"
    for (setting, cells), marker in zip(rows.items(), markers):
        axes.scatter(
            [cells[s][1] for s in cells],
            [cells[s][2] for s in cells],
            marker=marker,
            c=[f"C{s}" for s in cells],
            label=setting,
        )
    axes.set_xlabel("FD ratio, classifier features")
    axes.set_ylabel("FD ratio, pooled pixels")
    axes.set_xlim(0.8, None)
    axes.set_ylim(0.8, None)
    axes.set_title("Fashion-MNIST, interpolated schedule: samplers and guidance (colour: seed)")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.tight_layout()
    figure.savefig(os.path.join(HERE, "front.png"), dpi=120)


if __name__ == "__main__":
    main()
