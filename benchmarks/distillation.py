"""Few-step sampling: a distilled model against its teacher.

Scores the teacher at its own step counts (ancestral) and the students of a
`simple-diffusion distill` run at theirs (DDIM, the sampler they were
distilled for, and the stochastic sampler of guided distillation), each
with the package's own evaluation at one fixed setting (class models: class
accuracy and Frechet distance ratio in the classifier's features; text
models: prompt adherence, guided and not; both: Frechet distance ratio in
pooled pixels), and times sampling (images a second, after a warm-up call). The teacher
with DDIM at the students' step counts is the baseline that distillation
has to beat, and at its own count the best a student of its deterministic
sampler can reach. Writes JSON and a Markdown table, with the machine and
its load.

    python -m benchmarks.distillation --teacher runs/TRAIN --distilled runs/DISTILL
"""

import argparse
import glob
import json
import os
import re
import time

from benchmarks import common

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "distillation")


def rows(teacher_checkpoint, distill_dir, teacher_steps, ddim_steps, student_steps, samplers):
    """`(name, checkpoint, steps, sampler)` of every row: the teacher at
    each of `teacher_steps` (ancestral) and `ddim_steps` (DDIM), and each
    round's student with `student_steps` at its own steps with each of
    `samplers`."""
    table = [(f"teacher, {s} steps", teacher_checkpoint, s, "ancestral") for s in teacher_steps]
    table += [(f"teacher, {s} DDIM steps", teacher_checkpoint, s, "ddim") for s in ddim_steps]
    for folder in sorted(glob.glob(os.path.join(distill_dir, "round_*_steps"))):
        steps = int(re.search(r"round_\d+_(\d+)_steps", folder).group(1))
        if steps in student_steps:
            for sampler in samplers:
                name = f"student, {steps} steps" + ("" if sampler == "ddim" else f", {sampler}")
                table.append((name, os.path.join(folder, "model.keras"), steps, sampler))
    return table


# (row key, metric of the evaluation, table header, format): the scores a
# row keeps, those the model's evaluation gives.
SCORES = (
    ("accuracy", "class_accuracy", "accuracy", "{:.1%}"),
    ("fd_ratio", "fd_ratio", "FD ratio (classifier)", "{:.2f}"),
    ("prompt_adherence", "prompt_adherence", "prompt adherence", "{:.1%}"),
    ("prompt_adherence_unguided", "prompt_adherence_unguided", "unguided", "{:.1%}"),
    ("pixel_fd_ratio", "pixel_fd_ratio", "FD ratio (pooled pixels)", "{:.2f}"),
)


def conditions(model, num_images):
    """`generate`'s conditioning arguments for `num_images` samples: labels
    cycling through the classes, the evaluation's random shape prompts, or
    just the count."""
    if model.text_encoder is not None:
        from keras_simple_diffusion.evaluation.adherence import adherence_prompts

        return dict(prompts=adherence_prompts(num_images, image_size=model.image_size))
    if model.num_classes:
        return dict(labels=[index % model.num_classes for index in range(num_images)])
    return dict(num_images=num_images)


def images_per_second(model, steps, sampler, num_images, guidance):
    """Sampling throughput of one `generate` call, after a warm-up call."""
    kwargs = dict(
        conditions(model, num_images), steps=steps, sampler=sampler, guidance=guidance, seed=0
    )
    model.generate(**kwargs)  # traces and compiles
    start = time.perf_counter()
    model.generate(**kwargs)
    return num_images / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", required=True, help="the teacher's run folder or .keras file")
    parser.add_argument("--distilled", required=True, help="the distill run folder")
    parser.add_argument("--teacher-steps", default="128,256", help="the teacher's step counts")
    parser.add_argument(
        "--teacher-ddim-steps",
        default=None,
        help="the teacher's DDIM step counts (default: the first teacher count and the students')",
    )
    parser.add_argument("--student-steps", default="8,4", help="the students' step counts")
    parser.add_argument(
        "--samplers", default="ddim,stochastic", help="the students' samplers (generate's)"
    )
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--guidance", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0, help="the sampling seed of every row")
    parser.add_argument("--timing-images", type=int, default=50)
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    results_path = os.path.join(args.out, "distillation.json")
    settings = dict(num_samples=args.num_samples, guidance=args.guidance, seed=args.seed)
    results = {"rows": [], "settings": settings}
    if os.path.isfile(results_path):  # a rerun skips the rows done
        with open(results_path) as file:
            results = json.load(file)
        # Files written before the seed was recorded were all sampled with seed 0.
        results["settings"].setdefault("seed", 0)
        if results["settings"] != settings:
            parser.error(
                f"{results_path} holds rows scored with {results['settings']}, not {settings}: "
                "pass another --out"
            )

    from keras_simple_diffusion import files
    from keras_simple_diffusion.training import runs
    from keras_simple_diffusion.training.assessment import evaluate_checkpoint

    os.makedirs(args.out, exist_ok=True)
    teacher_steps = [int(s) for s in args.teacher_steps.split(",")]
    student_steps = [int(s) for s in args.student_steps.split(",")]
    ddim_steps = (
        [teacher_steps[0], *student_steps]
        if args.teacher_ddim_steps is None
        else [int(s) for s in args.teacher_ddim_steps.split(",")]
    )
    _, teacher_checkpoint = runs.load_checkpoint(args.teacher)
    distill_dir = runs.resolve_run_dir(args.distilled)
    done = {row["name"] for row in results["rows"]}
    for name, checkpoint, steps, sampler in rows(
        teacher_checkpoint,
        distill_dir,
        teacher_steps,
        ddim_steps,
        student_steps,
        args.samplers.split(","),
    ):
        if name in done:
            continue
        model, _ = runs.load_checkpoint(checkpoint)
        load_start = os.getloadavg()[0]
        speed = images_per_second(model, steps, sampler, args.timing_images, args.guidance)
        metrics, _ = evaluate_checkpoint(
            model,
            checkpoint,
            num_samples=args.num_samples,
            steps=steps,
            sampler=sampler,
            guidance=args.guidance,
            seed=args.seed,
        )
        scores = {key: metrics[metric] for key, metric, _, _ in SCORES if metric in metrics}
        results["rows"].append(
            dict(
                name=name,
                checkpoint=checkpoint,
                steps=steps,
                sampler=sampler,
                images_per_second=speed,
                **scores,
                load=[load_start, os.getloadavg()[0]],
            )
        )
        results.update(machine=common.machine_info())
        files.write_json(results_path, results)
        print(name, dict(scores, images_per_second=speed))
    write_table(results, os.path.join(args.out, "distillation.md"))


def write_table(results, path):
    machine = results["machine"]
    first = results["rows"][0]
    scores = [(key, header, fmt) for key, _, header, fmt in SCORES if first.get(key) is not None]
    headers = [
        "sampler",
        *(header for _, header, _ in scores),
        "images/s",
        "speed-up",
        "1-min load",
    ]
    lines = [
        f"Machine: {machine['cpu_model']}, {machine['usable_cores']} cores; "
        f"{results['settings']['num_samples']} samples, guidance "
        f"{results['settings']['guidance']}, sampling seed {results['settings']['seed']}.",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    for row in results["rows"]:
        cells = [
            row["name"],
            *(fmt.format(row[key]) for key, _, fmt in scores),
            f"{row['images_per_second']:.2f}",
            f"{row['images_per_second'] / first['images_per_second']:.1f}x",
            f"{row['load'][0]:.1f}-{row['load'][1]:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    with open(path, "w") as file:
        file.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
