"""Where a training step of the default run, or a step of its sampler,
spends its time, by each backend's own profiler.

Each backend runs in its own process: the run `simple-diffusion train`
builds (`step_time.build_run`), warm-up steps, then `--steps` steps under
the backend's profiler:

- JAX and TensorFlow (both through XLA): `jax.profiler` and
  `tf.profiler` record every XLA operation the CPU threads run; the
  operations are named back to the layers they came from through the
  compiled HLO (`--xla_dump_to`), whose metadata holds each operation's
  `op_name` ("jvp(u_vi_t)/transformer_0/attention/...").
- PyTorch (eager): `torch.profiler` records every aten operation with its
  self time; they are grouped by kind, since eager operations carry no
  layer names.

The report gives each group's milliseconds a step (summed over threads),
the step's wall time, the process's CPU time over its wall time (the cores
it kept busy, spinning included), and, on XLA, the wall time during which
at least one operation ran. With `--sample-batch N` it profiles
`generate` of N images instead (its figures a network call), and on
PyTorch counts the eager operations a call dispatches. Measure on a quiet
machine.

    python -m benchmarks.profile_step --backends jax,tensorflow,torch
    python -m benchmarks.profile_step --sample-batch 1 --warmup 2 --steps 5
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from benchmarks import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "profile")

# Layer groups of an XLA operation, by its `op_name`; the first match wins.
XLA_GROUPS = (
    ("optimizer and EMA", ("adam", "optimizer", "ema")),
    ("random numbers (t, noise)", ("_normal", "_uniform", "threefry", "random")),
    ("attention", ("/attention",)),
    ("wavelet (DWT and inverse)", ("dwt",)),
    ("transformer MLPs, norms, projections", ("transformer", "token_projection")),
    ("ResBlocks and convolutions", ("down_", "up_", "stem", "upsample", "downsample", "output_")),
    ("embeddings (noise level, class, position)", ("embedding",)),
)
# Groups of an eager PyTorch operation, by its aten name.
TORCH_GROUPS = (
    ("convolutions", ("conv", "cudnn", "mkldnn_convolution")),
    ("matrix products (dense layers, attention)", ("mm", "matmul", "linear", "einsum", "bmm")),
    ("attention kernels", ("softmax", "scaled_dot_product", "attention")),
    ("norms", ("norm",)),
    ("random numbers (t, noise)", ("normal", "uniform", "rand", "bernoulli")),
    ("copies and layout", ("copy", "contiguous", "permute", "transpose", "clone", "cat", "pad")),
)
OTHER = "everything else (loss, schedule, element-wise)"
# The slowest XLA operations a report lists by name.
TOP_OPERATIONS = 8


def group_of(name, groups):
    lowered = name.lower()
    for group, keys in groups:
        if any(key in lowered for key in keys):
            return group
    return OTHER


# --------------------------------------------------------------------------
# XLA: the profile's operations, named through the dumped HLO.
# --------------------------------------------------------------------------

_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = .*?op_name=\"([^\"]*)\"")


def hlo_op_names(dump_dir, program_id):
    """`{instruction: op_name}` of the compiled module `program_id`."""
    names = {}
    for path in glob.glob(
        os.path.join(dump_dir, f"module_{program_id:04d}.*after_optimizations.txt")
    ):
        with open(path) as file:
            for line in file:
                match = _INSTRUCTION.match(line)
                if match:
                    names.setdefault(match.group(1), match.group(2))
    return names


def xla_operations(trace_dir):
    """`(thread, hlo_op, program_id, start_ns, duration_ns)` of every XLA
    operation in the profile under `trace_dir`."""
    from jax.profiler import ProfileData

    operations = []
    for path in glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True):
        for plane in ProfileData.from_file(path).planes:
            for line in plane.lines:
                for event in line.events:
                    stats = dict(event.stats)
                    if "hlo_op" in stats and "program_id" in stats:
                        operations.append(
                            (
                                line.name,
                                stats["hlo_op"],
                                int(stats["program_id"]),
                                event.start_ns,
                                event.duration_ns,
                            )
                        )
    return operations


def busy_time(intervals):
    """The time covered by at least one of `intervals` `(start, end)`."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def summarize_xla(operations, dump_dir, steps):
    names = {}
    groups, by_thread, by_operation = {}, {}, {}
    for thread, op, program, start, duration in operations:
        if program not in names:
            names[program] = hlo_op_names(dump_dir, program)
        op_name = names[program].get(op, "")
        group = group_of(op_name, XLA_GROUPS)
        groups[group] = groups.get(group, 0.0) + duration
        by_thread.setdefault(thread, []).append((start, start + duration))
        by_operation[(op, op_name)] = by_operation.get((op, op_name), 0.0) + duration
    per_step_ms = 1e-6 / steps
    slowest = sorted(by_operation.items(), key=lambda item: -item[1])[:TOP_OPERATIONS]
    return dict(
        groups_ms={group: value * per_step_ms for group, value in groups.items()},
        top_operations=[
            dict(operation=op, op_name=op_name, ms=value * per_step_ms)
            for (op, op_name), value in slowest
        ],
        operations_ms=sum(groups.values()) * per_step_ms,
        threads=len(by_thread),
        any_thread_busy_ms=busy_time([iv for ivs in by_thread.values() for iv in ivs])
        * per_step_ms,
    )


# --------------------------------------------------------------------------
# The worker: one backend, in its own process.
# --------------------------------------------------------------------------


def _profiler(backend, trace_dir):
    """`(start, stop, result)`: start and stop the backend's own profiler
    around the measured calls; `result` then holds the wall and CPU seconds
    between them, and on PyTorch the profiler's operations."""
    result = {}

    def start():
        if backend == "jax":
            import jax

            jax.profiler.start_trace(trace_dir)
        elif backend == "tensorflow":
            import tensorflow as tf

            tf.profiler.experimental.start(trace_dir)
        else:
            import torch

            result["torch"] = torch.profiler.profile(
                activities=[torch.profiler.ProfilerActivity.CPU]
            )
            result["torch"].start()
        result["start"] = time.perf_counter()
        result["cpu_start"] = time.process_time()

    def stop():
        result["wall"] = time.perf_counter() - result["start"]
        result["cpu"] = time.process_time() - result["cpu_start"]
        if backend == "jax":
            import jax

            jax.profiler.stop_trace()
        elif backend == "tensorflow":
            import tensorflow as tf

            tf.profiler.experimental.stop()
        else:
            result["torch"].stop()

    return start, stop, result


def _profile_training(args, diffusion, data, start, stop):
    """`args.steps` training steps under the profiler, after `args.warmup`."""
    import keras

    class Profile(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == args.warmup - 1:
                keras.ops.convert_to_numpy(logs["loss"])
                start()

        def on_train_end(self, logs=None):
            keras.ops.convert_to_numpy(diffusion.optimizer.iterations)  # the queued steps ran
            stop()

    diffusion.fit(
        data,
        epochs=1,
        steps_per_epoch=args.warmup + args.steps,
        callbacks=[Profile()],
        shuffle=False,
        verbose=0,
    )
    return args.steps


def _profile_sampling(args, diffusion, start, stop):
    """`args.steps` calls of `generate` (`args.sample_batch` unconditional
    images, `args.sample_steps` ancestral steps) under the profiler, after
    `args.warmup`; returns the network calls profiled."""

    def generate():
        diffusion.generate(
            num_images=args.sample_batch, steps=args.sample_steps, sampler="ancestral", seed=0
        )

    for _ in range(args.warmup):
        generate()
    start()
    for _ in range(args.steps):
        generate()  # returns NumPy arrays: the calls have run when it returns
    stop()
    return args.steps * args.sample_steps


def profile(args):
    import keras

    from benchmarks.step_time import build_run

    backend = keras.config.backend()
    _, diffusion, data, _ = build_run(
        args.dataset, args.image_size, "float32", args.model, args.warmup + args.steps
    )
    trace_dir = os.environ["KSD_PROFILE_DIR"]
    start, stop, measured = _profiler(backend, trace_dir)
    if args.sample_batch:
        calls = _profile_sampling(args, diffusion, start, stop)
    else:
        calls = _profile_training(args, diffusion, data, start, stop)
    record = dict(
        backend=backend,
        # A training step, or one network call of the sampler.
        wall_ms=measured["wall"] * 1e3 / calls,
        # The process's CPU time over its wall time: the cores it kept busy.
        cores_busy=measured["cpu"] / measured["wall"],
        parameters=diffusion.denoiser.count_params(),
    )
    if backend == "torch":
        groups, count = {}, 0
        for event in measured["torch"].key_averages():
            group = group_of(event.key, TORCH_GROUPS)
            groups[group] = groups.get(group, 0.0) + event.self_cpu_time_total
            count += event.count
        record.update(
            groups_ms={group: us / 1e3 / calls for group, us in groups.items()},
            operations_ms=sum(groups.values()) / 1e3 / calls,
            operations_a_call=count / calls,
        )
    else:
        operations = xla_operations(trace_dir)
        if not operations:
            raise RuntimeError(f"the {backend} profile holds no XLA operations")
        record.update(summarize_xla(operations, os.environ["KSD_DUMP_DIR"], calls))
    common.emit(record)


def run_options(args):
    """The options that define the profiled run, as its worker takes them."""
    return {
        key: getattr(args, key)
        for key in (
            "dataset",
            "image_size",
            "model",
            "warmup",
            "steps",
            "sample_batch",
            "sample_steps",
        )
    }


def run_backend(args, backend):
    """One backend's profile in a fresh process: its record, or its error."""
    with tempfile.TemporaryDirectory() as scratch:
        dump_dir = os.path.join(scratch, "hlo")
        xla_flags = " ".join(
            [
                os.environ.get("XLA_FLAGS", ""),
                f"--xla_dump_to={dump_dir} --xla_dump_hlo_as_text",
                # Training steps, and `generate`'s loop as `compile_inference` compiles
                # it: JAX's `jit(compiled)`, TensorFlow's `tf.function` of a partial.
                "--xla_dump_hlo_module_re="
                ".*(train_step|one_step|multi_step|compiled|inference_function).*",
            ]
        ).strip()
        command = [sys.executable, "-m", "benchmarks.profile_step", "--worker"]
        command += common.option_flags(run_options(args))
        load = os.getloadavg()[0]
        result = subprocess.run(
            command,
            env=dict(
                os.environ,
                KERAS_BACKEND=backend,
                XLA_FLAGS=xla_flags,
                KSD_PROFILE_DIR=os.path.join(scratch, "trace"),
                KSD_DUMP_DIR=dump_dir,
            ),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    record = common.worker_record(result)
    if "error" in record:
        return dict(backend=backend, **record)
    return dict(record, load=[load, os.getloadavg()[0]])


def _row(label, cells):
    return f"| {label} | " + " | ".join(cells) + " |"


def _ms(value):
    return "-" if value is None else f"{value:.1f}"


def markdown(results):
    records = [record for record in results["records"] if "error" not in record]
    machine = results["machine"]
    settings = results["settings"]
    loads = [load for record in records for load in record["load"]]
    run = f"`simple-diffusion train --dataset {settings['dataset']}" + (
        f" --image-size {settings['image_size']}`" if settings["image_size"] else "`"
    )
    if settings.get("sample_batch"):
        unit = "network call"
        measured = (
            f"Sampling with the model of {run}: `generate` of {settings['sample_batch']} "
            f"unconditional images in {settings['sample_steps']} ancestral steps (one network "
            f"call each), {settings['steps']} profiled calls after {settings['warmup']} warm-up "
            "calls"
        )
    else:
        unit = "step"
        measured = (
            f"Training step of {run}, {settings['steps']} profiled steps after "
            f"{settings['warmup']} warm-up steps"
        )
    lines = [
        f"{measured}, each backend's own profiler. Machine: {machine['cpu_model']}, "
        f"{machine['usable_cores']} cores"
        + (f"; 1-minute load {min(loads):.1f}-{max(loads):.1f}." if loads else "."),
        "",
        "| | " + " | ".join(record["backend"] for record in records) + " |",
        "|---|" + "---|" * len(records),
        _row(f"wall time a {unit} (ms)", [f"{r['wall_ms']:.1f}" for r in records]),
        _row(f"operations' time a {unit} (ms)", [f"{r['operations_ms']:.1f}" for r in records]),
        _row(
            f"eager operations a {unit}",
            [f"{r['operations_a_call']:.0f}" if "operations_a_call" in r else "-" for r in records],
        ),
        _row(
            "cores busy (process CPU time / wall time)",
            [f"{r['cores_busy']:.2f}" for r in records],
        ),
        _row(
            "wall time with an XLA operation running (ms)",
            [_ms(r.get("any_thread_busy_ms")) for r in records],
        ),
    ]
    groups = []
    for record in records:
        groups += [group for group in record["groups_ms"] if group not in groups]
    lines += [_row(group, [_ms(r["groups_ms"].get(group)) for r in records]) for group in groups]
    for record in records:
        if record.get("top_operations"):
            lines += [
                "",
                f"The slowest XLA operations on {record['backend']} (ms a {unit}):",
                "",
            ]
            lines += [
                f"- {top['ms']:.1f} `{top['operation']}` ({top['op_name'] or 'no op_name'})"
                for top in record["top_operations"]
            ]
    for record in results["records"]:
        if "error" in record:
            lines.append(f"\n{record['backend']}: error: {record['error']}")
    return "\n".join(lines) + "\n"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--model", default=None, help="a preset (default: the run's own)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up steps (or generate calls)")
    parser.add_argument("--steps", type=int, default=10, help="profiled steps (or generate calls)")
    parser.add_argument(
        "--sample-batch",
        type=int,
        default=0,
        help="profile `generate` of this many images instead of training",
    )
    parser.add_argument("--sample-steps", type=int, default=32, help="the sampler's steps")
    parser.add_argument("--name", default=None, help="results file stem")
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if min(args.warmup, args.steps, args.sample_steps) < 1 or args.sample_batch < 0:
        print(
            "error: --warmup, --steps and --sample-steps must be at least 1, "
            "--sample-batch at least 0.",
            file=sys.stderr,
        )
        return 2
    if args.worker:
        profile(args)
        return 0
    records = []
    for backend in args.backends.split(","):
        records.append(run_backend(args, backend))
        print(json.dumps(records[-1]), flush=True)
    results = dict(
        settings=run_options(args),
        machine=common.machine_info(),
        records=records,
    )
    name = args.name or f"{args.dataset}{args.image_size or ''}" + (
        f"_sampling{args.sample_batch}" if args.sample_batch else ""
    )
    common.save_results(args.out, name, results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
