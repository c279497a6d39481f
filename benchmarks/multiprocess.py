"""Training throughput with 1 and 2 processes, one thread each, per backend.

Each backend's multi-process engine (torchrun + torch.distributed with
gloo, JAX processes with gloo collectives, TF MultiWorkerMirroredStrategy)
against one plain process, on the same global batch (`--model`, uvit-tiny
by default, at 32 x 32, global batch 32: each of two processes computes 16
images). Process 0
times the steps after the warm-up (the first steps compile); images/s is
the global batch over the median step time, and scaling efficiency is
images/s with 2 processes / (2 x images/s with 1). The ceiling row runs two
independent one-process trainings of 16 images a step side by side, with
no communication at all: its efficiency is what this machine's two cores
give two processes, the most any engine could reach here. All processes
run on 127.0.0.1; the machine's load average is recorded with the figures.

    python benchmarks/multiprocess.py                       # all three backends
    python benchmarks/multiprocess.py --backends torch --steps 30
    python benchmarks/multiprocess.py --steps 60 --repeats 3   # median and range

Writes benchmarks/results/multiprocess.json, one entry per model and backend.
"""

import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = pathlib.Path(os.environ.get("KSD_RESULTS_DIR") or ROOT / "benchmarks" / "results")
GLOBAL_BATCH = 32
IMAGE_SIZE = 32
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def worker(model_name, steps, warmup, out):
    """One process: trains `warmup + steps` steps of BENCH_BATCH images
    (the whole global batch over all processes); process 0 writes the step
    times after the warm-up to `out`."""
    backend = os.environ["KERAS_BACKEND"]
    import numpy as np

    from keras_simple_diffusion import distribution

    multi = int(os.environ.get("BENCH_PROCESSES", "1")) > 1
    if multi and backend != "torch":
        distribution.initialize()  # JAX: KERAS_DISTRIBUTION_* variables; TF: TF_CONFIG
    import keras
    import tensorflow as tf

    import keras_simple_diffusion as ksd

    context = distribution.configure_distribution("data" if multi else None)
    keras.utils.set_random_seed(0)
    with context.scope():
        model = ksd.SimpleDiffusion(
            ksd.build_denoiser(model_name, image_size=IMAGE_SIZE, channels=1), seed=0
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=context.jit_compile)
    context.prepare(model)
    batch = int(os.environ.get("BENCH_BATCH", GLOBAL_BATCH))
    images = np.random.default_rng(0).uniform(-1, 1, (batch, IMAGE_SIZE, IMAGE_SIZE, 1))
    dataset = tf.data.Dataset.from_tensors(images.astype("float32")).repeat()
    dataset = context.shard_dataset(dataset, batch)
    times = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())

    model.fit(dataset, epochs=1, steps_per_epoch=warmup + steps, verbose=0, callbacks=[Clock()])
    if context.process_index == 0:
        step_times = np.diff(times[warmup - 1 :]).tolist()
        pathlib.Path(out).write_text(json.dumps({"step_s": step_times}))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(backend, model, processes, steps, warmup, timeout):
    """Trains in `processes` processes, or "ceiling": two independent
    processes of half the batch each; returns images/s."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "times.json")
        worker_args = [__file__, "--worker", "--model", model, "--steps", str(steps)]
        worker_args += ["--warmup", str(warmup)]
        me = [*worker_args, "--out", out]
        env = {
            **os.environ,
            **ONE_THREAD,
            "KERAS_BACKEND": backend,
            "BENCH_PROCESSES": "1" if processes == "ceiling" else str(processes),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        port = free_port()
        if processes == "ceiling":
            half = {**env, "BENCH_BATCH": str(GLOBAL_BATCH // 2)}
            commands = [
                ([sys.executable, *worker_args, "--out", f"{out}.{i}"], half) for i in range(2)
            ]
        elif processes == 1:
            commands = [([sys.executable, *me], env)]
        elif backend == "torch":
            torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1"]
            torchrun += ["--nproc-per-node", str(processes), "--master-addr", "127.0.0.1"]
            commands = [([*torchrun, "--master-port", str(port), *me], env)]
        elif backend == "jax":
            jax_env = {
                "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
                "KERAS_DISTRIBUTION_NUM_PROCESSES": str(processes),
            }
            commands = [
                ([sys.executable, *me], {**env, **jax_env, "KERAS_DISTRIBUTION_PROCESS_ID": str(i)})
                for i in range(processes)
            ]
        else:
            workers = [f"127.0.0.1:{free_port()}" for _ in range(processes)]
            commands = []
            for index in range(processes):
                config = {
                    "cluster": {"worker": workers},
                    "task": {"type": "worker", "index": index},
                }
                commands.append(([sys.executable, *me], {**env, "TF_CONFIG": json.dumps(config)}))
        started = [
            subprocess.Popen(command, env=command_env, start_new_session=True)
            for command, command_env in commands
        ]
        try:
            for process in started:
                process.wait(timeout=timeout)
        finally:
            for process in started:
                if process.poll() is None:
                    os.killpg(process.pid, 9)
                    process.wait()
        if any(process.returncode for process in started):
            raise RuntimeError(f"{backend} with {processes} processes failed")
        if processes == "ceiling":
            halves = [
                json.loads(pathlib.Path(f"{out}.{i}").read_text())["step_s"] for i in range(2)
            ]
            return sum(GLOBAL_BATCH // 2 / statistics.median(step_s) for step_s in halves)
        return GLOBAL_BATCH / statistics.median(json.loads(pathlib.Path(out).read_text())["step_s"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["torch", "jax", "tensorflow"])
    parser.add_argument("--model", default="uvit-tiny", help="denoiser preset (%(default)s)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each setting")
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.model, args.steps, args.warmup, args.out)
    path = RESULTS / "multiprocess.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for backend in args.backends:
        row = {}
        # Repeats interleave the three settings, so that a slow spell of the
        # machine falls on all of them; each figure is the median of its
        # repeats, with the range beside it.
        settings = {"1_processes": 1, "2_processes": 2, "ceiling": "ceiling"}
        runs = {name: [] for name in settings}
        for _ in range(args.repeats):
            for name, processes in settings.items():
                load_before = os.getloadavg()[0]
                images_per_s = launch(
                    backend, args.model, processes, args.steps, args.warmup, args.timeout
                )
                runs[name].append(dict(images_per_s=images_per_s, load_1min=load_before))
                print(backend, name, runs[name][-1], flush=True)
        for name, measured in runs.items():
            speeds = [run["images_per_s"] for run in measured]
            row[name] = {
                "images_per_s": statistics.median(speeds),
                "images_per_s_range": [min(speeds), max(speeds)],
                "runs": measured,
                "steps": args.steps,
            }
        one = 2 * row["1_processes"]["images_per_s"]
        row["scaling_efficiency"] = row["2_processes"]["images_per_s"] / one
        row["ceiling_efficiency"] = row["ceiling"]["images_per_s"] / one
        row.update(
            model=args.model,
            image_size=IMAGE_SIZE,
            global_batch=GLOBAL_BATCH,
            threads_per_process=1,
            cpus=os.cpu_count(),
            date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            command=" ".join(["python", "benchmarks/multiprocess.py", *sys.argv[1:]]),
        )
        results.setdefault(args.model, {})[backend] = row
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
