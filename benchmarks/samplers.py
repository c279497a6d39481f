"""Quality per network call: every sampler of `generate` at a range of step
counts, on one trained checkpoint.

Each row is one `(sampler, steps, spacing)` scored by the package's own
evaluation (`evaluate_checkpoint`: class accuracy and Frechet distance
ratio in the offline classifier's features and in pooled pixels, or prompt
adherence for a text model), at one seed and guidance. The 128-step
ancestral sampler (the earlier default) comes first; the other rows follow
from the fewest steps up, so that a run cut short still holds the
comparisons that matter. A rerun skips the rows already in the JSON, so
several invocations (a spacing study, then the full grid) fill one table.
Times sampling (images a second, after a warm-up call) for the `--timing`
settings. Writes JSON, a Markdown table and a plot, with the machine and
its load.

    python -m benchmarks.samplers --checkpoint runs/latest
    python -m benchmarks.samplers --checkpoint runs/latest \\
        --samplers ddim,dpmpp-2m,dpmpp-2m-sde --steps 8,16 --spacings time,logsnr,karras
"""

import argparse
import json
import os
import time

from benchmarks import common
from benchmarks.distillation import SCORES, images_per_second

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "samplers")
SAMPLERS = "ancestral,ddim,stochastic,dpmpp-2m,dpmpp-2m-sde"
STEPS = "4,8,16,32,64,128"
BASELINE = ("ancestral", 128)


def rows(samplers, steps, spacings):
    """`(sampler, steps, spacing)` of every row: the baseline first (when
    asked for), then by step count; a None spacing is the sampler's own."""
    table = [
        (sampler, count, spacing) for sampler in samplers for count in steps for spacing in spacings
    ]
    return sorted(table, key=lambda row: (row[:2] != BASELINE, row[1]))


def row_key(row):
    return f"{row['sampler']}, {row['steps']} steps, {row['spacing']} spacing"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a run folder or .keras file")
    parser.add_argument("--samplers", default=SAMPLERS, help="default %(default)s")
    parser.add_argument("--steps", default=STEPS, help="default %(default)s")
    parser.add_argument(
        "--spacings", default=None, help="comma-separated spacings (default: each sampler's own)"
    )
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--guidance", type=float, default=0.0)
    parser.add_argument(
        "--timing",
        default="",
        help="SAMPLER:STEPS,... to time (images/s), e.g. ancestral:128,dpmpp-2m:16",
    )
    parser.add_argument("--timing-images", type=int, default=50)
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from keras_simple_diffusion import files
    from keras_simple_diffusion.samplers import DEFAULT_SPACINGS
    from keras_simple_diffusion.training import runs
    from keras_simple_diffusion.training.assessment import evaluate_checkpoint

    os.makedirs(args.out, exist_ok=True)
    model, checkpoint = runs.load_checkpoint(args.checkpoint)
    results_path = os.path.join(args.out, "samplers.json")
    results = {"rows": [], "timing": []}
    if os.path.isfile(results_path):
        with open(results_path) as file:
            results = json.load(file)
    done = {row_key(row) for row in results["rows"]}
    spacings = [None] if args.spacings is None else args.spacings.split(",")
    calls_per_step = 2 if args.guidance > 0 and not model.guidance_input else 1
    for sampler, steps, spacing in rows(
        args.samplers.split(","), [int(s) for s in args.steps.split(",")], spacings
    ):
        spacing = spacing or DEFAULT_SPACINGS[sampler]
        row = dict(sampler=sampler, steps=steps, spacing=spacing)
        if row_key(row) in done:
            continue
        load_start = os.getloadavg()[0]
        start = time.perf_counter()
        metrics, _ = evaluate_checkpoint(
            model,
            checkpoint,
            num_samples=args.num_samples,
            steps=steps,
            sampler=sampler,
            spacing=spacing,
            guidance=args.guidance,
        )
        row.update(
            network_calls=steps * calls_per_step,
            **{key: metrics[metric] for key, metric, _, _ in SCORES if metric in metrics},
            seconds=time.perf_counter() - start,
            load=[load_start, os.getloadavg()[0]],
        )
        results["rows"].append(row)
        results.update(
            machine=common.machine_info(),
            checkpoint=checkpoint,
            settings=dict(
                num_samples=args.num_samples, guidance=args.guidance, backend=metrics["backend"]
            ),
        )
        files.write_json(results_path, results)
        print(row_key(row), {key: row[key] for key, *_ in SCORES if key in row}, flush=True)
    for setting in filter(None, args.timing.split(",")):
        sampler, steps = setting.split(":")
        load_start = os.getloadavg()[0]
        speed = images_per_second(model, int(steps), sampler, args.timing_images, args.guidance)
        results["timing"].append(
            dict(
                sampler=sampler,
                steps=int(steps),
                spacing=DEFAULT_SPACINGS[sampler],
                images=args.timing_images,
                images_per_second=speed,
                load=[load_start, os.getloadavg()[0]],
            )
        )
        files.write_json(results_path, results)
        print(setting, f"{speed:.2f} images/s", flush=True)
    write_table(results, os.path.join(args.out, "samplers.md"))
    plot(results, os.path.join(args.out, "samplers.png"))


def _scores(results):
    first = results["rows"][0]
    return [(key, header, fmt) for key, _, header, fmt in SCORES if first.get(key) is not None]


def write_table(results, path):
    machine, settings = results["machine"], results["settings"]
    scores = _scores(results)
    headers = ["sampler", "steps", "spacing", "network calls", *(h for _, h, _ in scores)]
    lines = [
        f"Checkpoint {results['checkpoint']}; {settings['num_samples']} samples a row, "
        f"guidance {settings['guidance']}, {settings['backend']}. Machine: "
        f"{machine['cpu_model']}, {machine['usable_cores']} cores; 1-min load "
        + ", ".join(f"{row['load'][0]:.1f}" for row in results["rows"][:1])
        + " at the first row (every row's in samplers.json).",
        "",
        "| " + " | ".join(headers + ["1-min load"]) + " |",
        "|" + "---|" * (len(headers) + 1),
    ]
    ordered = sorted(results["rows"], key=lambda r: (r["sampler"], r["spacing"], r["steps"]))
    for row in ordered:
        cells = [row["sampler"], str(row["steps"]), row["spacing"], str(row["network_calls"])]
        cells += [fmt.format(row[key]) for key, _, fmt in scores]
        cells.append(f"{row['load'][0]:.1f}-{row['load'][1]:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    if results.get("timing"):
        lines += ["", "| sampler | steps | images/s | 1-min load |", "|---|---|---|---|"]
        for row in results["timing"]:
            lines.append(
                f"| {row['sampler']} ({row['spacing']} spacing) | {row['steps']} | "
                f"{row['images_per_second']:.2f} | {row['load'][0]:.1f}-{row['load'][1]:.1f} |"
            )
    with open(path, "w") as file:
        file.write("\n".join(lines) + "\n")


def plot(results, path):
    """One panel a score: the score against network calls, a line for each
    (sampler, spacing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = _scores(results)
    figure, axes = plt.subplots(1, len(scores), figsize=(5 * len(scores), 4), squeeze=False)
    lines = {}
    for row in results["rows"]:
        lines.setdefault((row["sampler"], row["spacing"]), []).append(row)
    for axis, (key, header, _) in zip(axes[0], scores):
        for (sampler, spacing), points in sorted(lines.items()):
            points = sorted(points, key=lambda row: row["network_calls"])
            axis.plot(
                [row["network_calls"] for row in points],
                [row[key] for row in points],
                marker="o",
                label=f"{sampler} ({spacing})",
            )
        axis.set_xscale("log", base=2)
        axis.set_xlabel("network calls per image")
        axis.set_title(header)
        if "ratio" in key:
            axis.set_yscale("log")
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    main()
