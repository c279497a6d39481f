"""Mean and spread over seeds of `simple-diffusion evaluate` results, and each
setting's ratio to a baseline.

Reads every evaluation JSON in a folder (`evaluate --json`, one a sampler,
step count, spacing and seed), groups them by `(sampler, steps, spacing)`
and writes `summary.json` and `summary.md` there. Given several folders,
each one training run's evaluations, the runs are the seeds (a run's
folder name and its sampling seed) and the summary goes to their common
parent. The summary holds each score of each setting (class accuracy or
prompt adherence, the FD ratios) as mean, standard deviation and range over
its seeds, and the ratio of its mean FD ratios to the baseline setting's. A
setting is compared only on the seeds it shares with the baseline.

    python -m benchmarks.seed_summary benchmarks/results/samplers/digits_seeds \\
        --baseline ancestral:128:time
    python -m benchmarks.seed_summary runs/seed0 runs/seed1     # two training seeds
"""

import argparse
import glob
import json
import os

import numpy as np

from benchmarks.distillation import SCORES as TABLE_SCORES

# (evaluate's key, table header, format) of the scores summarised, when
# present: those of the sampler and distillation tables.
SCORES = tuple((metric, header, fmt) for _, metric, header, fmt in TABLE_SCORES)
SETTING_KEYS = ("sampler", "steps", "spacing")


def load_results(folders):
    """`{(sampler, steps, spacing): {seed: result}}` of the evaluation JSONs in
    `folders`: the seed is the sampling seed with one folder, and
    `"<folder name>/<sampling seed>"` with several (each a training run)."""
    settings = {}
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            with open(path) as file:
                result = json.load(file)
            if not isinstance(result, dict) or not all(
                k in result for k in (*SETTING_KEYS, "seed")
            ):
                continue  # not an evaluation (this script's own summary, a benchmark table)
            setting = tuple(result[key] for key in SETTING_KEYS)
            seeds = settings.setdefault(setting, {})
            seed = result["seed"]
            if len(folders) > 1:
                seed = f"{os.path.basename(os.path.normpath(folder))}/{seed}"
            if seed in seeds:
                raise ValueError(f"{path}: a second result for {setting}, seed {seed}.")
            seeds[seed] = result
    if not settings:
        raise ValueError(f"No `simple-diffusion evaluate --json` results in {', '.join(folders)}.")
    return settings


def parse_setting(text):
    sampler, steps, spacing = text.split(":")
    return sampler, int(steps), spacing


def summarize(settings, baseline):
    """One row a setting: each score's mean, standard deviation (ddof 1) and
    range over the seeds, and its FD ratios' means over the baseline's."""
    if baseline not in settings:
        raise ValueError(f"Baseline {baseline} is not among the settings {sorted(settings)}.")
    rows = []
    for setting, by_seed in sorted(settings.items()):
        seeds = sorted(by_seed)
        shared = [seed for seed in seeds if seed in settings[baseline]]
        row = dict(zip(SETTING_KEYS, setting), seeds=seeds)
        for key, _, _ in SCORES:
            values = np.array([by_seed[seed][key] for seed in seeds if key in by_seed[seed]])
            if len(values) != len(seeds):
                continue
            row[key] = dict(
                mean=float(values.mean()),
                std=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                min=float(values.min()),
                max=float(values.max()),
            )
            if "ratio" in key and shared:
                mean = np.mean([by_seed[seed][key] for seed in shared])
                reference = np.mean([settings[baseline][seed][key] for seed in shared])
                row[key]["over_baseline"] = float(mean / reference)
        rows.append(row)
    return rows


def markdown(rows, baseline):
    scores = [score for score in SCORES if score[0] in rows[0]]
    lines = [
        "Mean ± standard deviation (range) over the seeds; x: the mean's ratio to "
        f"the baseline's ({baseline[0]}, {baseline[1]} steps, {baseline[2]} spacing) "
        "on the seeds they share.",
        "",
        "| sampler | steps | spacing | seeds | "
        + " | ".join(header for _, header, _ in scores)
        + " |",
        "|---|---|---|---|" + "---|" * len(scores),
    ]
    for row in rows:
        cells = [row["sampler"], str(row["steps"]), row["spacing"], str(len(row["seeds"]))]
        for key, _, fmt in scores:
            score = row.get(key)
            if score is None:
                cells.append("-")
                continue
            cell = f"{fmt.format(score['mean'])} ± {fmt.format(score['std'])} "
            cell += f"({fmt.format(score['min'])}-{fmt.format(score['max'])})"
            if "over_baseline" in score:
                cell += f", {score['over_baseline']:.2f}x"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folders",
        nargs="+",
        help="a folder of `simple-diffusion evaluate --json` results, or several, one a training run",
    )
    parser.add_argument(
        "--baseline", default="ancestral:128:time", help="SAMPLER:STEPS:SPACING (%(default)s)"
    )
    args = parser.parse_args(argv)
    baseline = parse_setting(args.baseline)
    rows = summarize(load_results(args.folders), baseline)
    out = args.folders[0] if len(args.folders) == 1 else os.path.commonpath(args.folders)
    with open(os.path.join(out, "summary.json"), "w") as file:
        json.dump(dict(baseline=list(baseline), rows=rows), file, indent=2)
    table = markdown(rows, baseline)
    with open(os.path.join(out, "summary.md"), "w") as file:
        file.write(table)
    print(table)


if __name__ == "__main__":
    main()
