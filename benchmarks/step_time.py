"""The time a training step of a run takes, as `simple-diffusion train` builds
the run, on each backend and compute precision.

Each setting runs in its own process (Keras picks its backend at import):
the run's data pipeline, model and optimizer (`trainer.load_training_data`
and `trainer.build_model`, every `TrainConfig` default unless told), then
`model.fit` for warm-up steps and timed steps. A setting's time a step is
the timed steps' wall time over their count, from a synchronised start to
the end of `fit`. Settings are interleaved `--repeats` times; the report
gives each one's median and range, the 1-minute load around it, and the
machine. Measure on a quiet machine: a training beside it measures nothing.

    python -m benchmarks.step_time --backends tensorflow,jax,torch --precisions float32,bfloat16
    python -m benchmarks.step_time --dataset emoji --image-size 64 --backends tensorflow
    python -m benchmarks.step_time --backends jax --xla-flags ";--xla_cpu_use_onednn=true"
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks import common
from keras_simple_diffusion.training.config import parse_jit_compile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "step_time")


def build_run(dataset, image_size, precision, model, steps, jit_compile="auto"):
    """The run `simple-diffusion train` would build for these options (every
    other `TrainConfig` field at its default), planned for `steps` steps:
    `(config, model, data, info)`, the data tokenised for a text model."""
    from keras_simple_diffusion.precision import configure_precision
    from keras_simple_diffusion.training import trainer
    from keras_simple_diffusion.training.config import TrainConfig

    config = TrainConfig(
        dataset=dataset,
        image_size=image_size,
        precision=precision,
        model=model,
        steps=steps,
        jit_compile=jit_compile,
        verbose=0,
    )
    configure_precision(config.precision)
    info, num_classes = trainer.load_training_data(config)
    text = trainer.is_text_conditioned(config, info)
    diffusion = trainer.build_model(config, info.image_size, info.channels, num_classes, text=text)
    data = diffusion.tokenize_dataset(info.dataset) if text else info.dataset
    return config, diffusion, data, info


def time_steps(
    dataset,
    image_size,
    precision,
    warmup,
    steps,
    model=None,
    sample_batches=(),
    sample_steps=32,
    jit_compile="auto",
):
    """Seconds a training step of the run `TrainConfig(dataset, image_size,
    precision, model, jit_compile)` would train, after `warmup` steps; with
    the model's parameter count, and its sampling speed at each of
    `sample_batches` (`time_sampling`)."""
    import keras

    config, diffusion, data, info = build_run(
        dataset, image_size, precision, model, warmup + steps, jit_compile
    )
    started = {}

    class StartAfterWarmup(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == warmup - 1:
                # Wait for the queued steps (JAX dispatches ahead) before the clock starts.
                keras.ops.convert_to_numpy(logs["loss"])
                started["time"] = time.perf_counter()

    diffusion.fit(
        data,
        epochs=1,
        steps_per_epoch=warmup + steps,
        callbacks=[StartAfterWarmup()],
        shuffle=False,
        verbose=0,
    )
    keras.ops.convert_to_numpy(diffusion.optimizer.iterations)
    return dict(
        seconds_per_step=(time.perf_counter() - started["time"]) / steps,
        parameters=diffusion.denoiser.count_params(),
        image_size=info.image_size,
        batch_size=config.batch_size,
        sampling=[time_sampling(diffusion, batch, sample_steps) for batch in sample_batches],
    )


def time_sampling(diffusion, batch, steps):
    """Images/s of `generate` (ancestral, unconditional) at `batch`, the
    compiled loop against the baseline a user would write: a Python loop of
    compiled sampler steps (eager on torch, as `compile_inference`). Each
    is timed on its second call, after the one that compiles it."""
    from benchmarks.worker import _step_function, python_loop
    from keras_simple_diffusion.backend import compile_inference

    def seconds(sample):
        sample()
        start = time.perf_counter()
        sample()
        return time.perf_counter() - start

    compiled_loop = seconds(
        lambda: diffusion.generate(num_images=batch, steps=steps, sampler="ancestral", seed=0)
    )
    step = compile_inference(diffusion, _step_function(diffusion, batch))
    step_loop = seconds(lambda: python_loop(diffusion, batch, steps, step))
    return dict(
        batch=batch,
        steps=steps,
        compiled_loop_images_per_s=batch / compiled_loop,
        python_loop_images_per_s=batch / step_loop,
    )


def run_options(args):
    """The options that define the timed run, as its worker takes them."""
    return dict(
        dataset=args.dataset,
        image_size=args.image_size,
        model=args.model,
        warmup=args.warmup,
        steps=args.steps,
        sample_batches=args.sample_batches,
        sample_steps=args.sample_steps,
    )


def _measure(args, backend, precision, xla_flags, jit_compile):
    """One setting in a fresh process: its record, or its error in one line."""
    command = [sys.executable, "-m", "benchmarks.step_time", "--worker", precision]
    command += ["--jit-compile", jit_compile, *common.option_flags(run_options(args))]
    load_start = os.getloadavg()[0]
    result = subprocess.run(
        command,
        env=dict(os.environ, KERAS_BACKEND=backend, XLA_FLAGS=xla_flags),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=args.timeout,
    )
    record = dict(
        backend=backend,
        precision=precision,
        xla_flags=xla_flags,
        jit_compile=jit_compile,
        load=[load_start, os.getloadavg()[0]],
    )
    return dict(record, **common.worker_record(result))


SETTING_KEYS = ("backend", "precision", "xla_flags", "jit_compile")


def _setting(record):
    """The setting a record measured, as a key: backend, precision, XLA
    flags, `jit_compile`."""
    return (
        record["backend"],
        record["precision"],
        record.get("xla_flags", ""),
        record.get("jit_compile", "auto"),
    )


def summarize(records):
    """One row a setting: the median and range of its repeats."""
    rows = {}
    for record in records:
        key = _setting(record)
        row = rows.setdefault(key, dict(zip(SETTING_KEYS, key), times=[], errors=[]))
        if "error" in record:
            row["errors"].append(record["error"])
        else:
            row["times"].append(record["seconds_per_step"])
            row.update(parameters=record["parameters"], batch_size=record["batch_size"])
    for row in rows.values():
        if row["times"]:
            row["median_s"] = statistics.median(row["times"])
    fastest = min((row["median_s"] for row in rows.values() if "median_s" in row), default=None)
    for row in rows.values():
        if "median_s" in row:
            row["over_fastest"] = row["median_s"] / fastest
    return list(rows.values())


def summarize_sampling(records):
    """One row a setting and batch: the median images/s of the compiled loop
    and of the Python loop of compiled steps over the repeats."""
    rows = {}
    for record in records:
        for sampled in record.get("sampling", []):
            key = (*_setting(record), sampled["batch"])
            row = rows.setdefault(key, dict(zip((*SETTING_KEYS, "batch"), key)))
            for kind in ("compiled_loop", "python_loop"):
                row.setdefault(kind, []).append(sampled[f"{kind}_images_per_s"])
    for row in rows.values():
        for kind in ("compiled_loop", "python_loop"):
            row[f"{kind}_median"] = statistics.median(row[kind])
    return list(rows.values())


def markdown(results):
    settings = results["settings"]
    machine = results["machine"]
    loads = [load for record in results["records"] for load in record["load"]]
    lines = [
        f"Training step of `simple-diffusion train --dataset {settings['dataset']}"
        + (f" --image-size {settings['image_size']}" if settings["image_size"] else "")
        + (f" --model {settings['model']}" if settings["model"] else "")
        + f"`: {settings['steps']} timed steps after {settings['warmup']} warm-up steps, "
        f"{settings['repeats']} interleaved repeats. Machine: {machine['cpu_model']}, "
        f"{machine['usable_cores']} cores; 1-minute load {min(loads):.1f}-{max(loads):.1f}.",
        "",
        "| backend | precision | XLA_FLAGS | jit_compile | s a step, median (range) "
        "| x fastest | images/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        setting = (
            f"| {row['backend']} | {row['precision']} | {row['xla_flags'] or '-'} "
            f"| {row['jit_compile']} |"
        )
        if "median_s" not in row:
            lines.append(f"{setting} error: {row['errors'][0]} | | |")
            continue
        spread = f"{min(row['times']):.3f}-{max(row['times']):.3f}"
        lines.append(
            f"{setting} {row['median_s']:.3f} ({spread}) | "
            f"{row['over_fastest']:.2f}x | {row['batch_size'] / row['median_s']:.1f} |"
        )
    if results.get("sampling"):
        lines += [
            "",
            f"Sampling: `generate`, {settings['sample_steps']} ancestral steps, unconditional; "
            "images/s, median over the repeats; the baseline is a Python loop of compiled "
            "sampler steps (eager on torch).",
            "",
            "| backend | precision | XLA_FLAGS | batch | compiled loop | Python loop of steps "
            "| compiled / loop |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in results["sampling"]:
            lines.append(
                f"| {row['backend']} | {row['precision']} | {row['xla_flags'] or '-'} | "
                f"{row['batch']} | {row['compiled_loop_median']:.2f} | "
                f"{row['python_loop_median']:.2f} | "
                f"{row['compiled_loop_median'] / row['python_loop_median']:.2f}x |"
            )
    return "\n".join(lines) + "\n"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--precisions", default="float32")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--model", default=None, help="a preset (default: the run's own)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--sample-batches",
        default=None,
        help="also time `generate` at these batch sizes, e.g. 1,16,256",
    )
    parser.add_argument("--sample-steps", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a setting")
    parser.add_argument(
        "--xla-flags",
        default=None,
        help="';'-separated alternatives of XLA_FLAGS, each timed as its own setting "
        "(e.g. ';--xla_cpu_use_onednn=true'; default: the environment's)",
    )
    parser.add_argument(
        "--jit-compile",
        default="auto",
        help="comma-separated alternatives of `train --jit-compile` (auto, true, false), "
        "each timed as its own setting",
    )
    parser.add_argument("--name", default=None, help="results file stem")
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if min(args.warmup, args.steps, args.repeats, args.sample_steps) < 1:
        print(
            "error: --warmup, --steps, --repeats and --sample-steps must be at least 1.",
            file=sys.stderr,
        )
        return 2
    batches = args.sample_batches.split(",") if args.sample_batches else []
    if not all(batch.isdigit() and int(batch) >= 1 for batch in batches):
        print(
            f"error: --sample-batches takes positive integers, e.g. 1,16,256; "
            f"got {args.sample_batches!r}.",
            file=sys.stderr,
        )
        return 2
    try:
        jit_settings = [parse_jit_compile(text) for text in args.jit_compile.split(",")]
    except ValueError as error:
        print(f"error: --jit-compile: {error}.", file=sys.stderr)
        return 2
    if args.worker:
        options = dict(run_options(args), sample_batches=[int(batch) for batch in batches])
        common.emit(time_steps(precision=args.worker, jit_compile=jit_settings[0], **options))
        return 0
    flag_sets = os.environ.get("XLA_FLAGS", "") if args.xla_flags is None else args.xla_flags
    settings = [
        (backend, precision, xla_flags.strip(), jit_compile)
        for backend in args.backends.split(",")
        for precision in args.precisions.split(",")
        for xla_flags in flag_sets.split(";")
        for jit_compile in args.jit_compile.split(",")
    ]
    records = []
    for _ in range(args.repeats):
        for setting in settings:
            records.append(_measure(args, *setting))
            print(json.dumps(records[-1]), flush=True)
    results = dict(
        settings=dict(run_options(args), repeats=args.repeats),
        machine=common.machine_info(),
        records=records,
    )
    results["rows"] = summarize(records)
    results["sampling"] = summarize_sampling(records)
    name = args.name or f"{args.dataset}{args.image_size or ''}"
    common.save_results(args.out, name, results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
