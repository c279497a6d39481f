"""Training with several processes, on one machine (CPU, 127.0.0.1 only).

Each backend's own engine, run for real with two processes, against a run
in one process on the same global batches:

- PyTorch: `torchrun` (gloo), each rank its share of the batch and its own
  noise, gradients averaged;
- JAX: two processes x two CPU devices forming one mesh (gloo collectives),
  DataParallel and ModelParallel with the model axis across the processes;
- TensorFlow: MultiWorkerMirroredStrategy, two workers from TF_CONFIG.

And the CLI on each of the three: a killed process stops the other, one
run folder written by process 0, the run resumed in two processes and its
model sampled in one.

Every process is started in its own session and its group is killed at the
end, whatever happens. Each test runs on its own backend only (KERAS_BACKEND)."""

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import uuid

import keras
import numpy as np
import pytest
from device_flags import xla_flags

from keras_simple_diffusion.training.commands import tiny_train_command

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent.parent
KILL_LIMIT_S = 60


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**extra):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
    }
    env.update({name: str(value) for name, value in extra.items()})
    return env


@contextlib.contextmanager
def processes():
    """`start(command, env, log)` starts a process in a new session; every
    session's process group is killed on the way out."""
    started = []

    def start(command, env, log):
        started.append(
            subprocess.Popen(
                command,
                env=env,
                cwd=str(HERE),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        return started[-1]

    try:
        yield start
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_all(started, timeout=900):
    deadline = time.monotonic() + timeout
    for process in started:
        process.wait(timeout=max(deadline - time.monotonic(), 1))
    return [process.returncode for process in started]


def read_results(out, name):
    return [json.loads(path.read_text()) for path in sorted(out.glob(f"{name}-*.json"))]


def torchrun(nproc, port):
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        str(nproc),
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]


def assert_relatively_close(got, want, tolerance):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    assert np.all(np.abs(got - want) <= tolerance * np.abs(want)), (got, want)


@pytest.mark.backends("torch")
@pytest.mark.slow
def test_torch_two_ranks_train_as_one_process_averaging_their_gradients(tmp_path):
    # Ranks start from different weights and seeds: rank 0's are broadcast.
    # Three steps; the one-process reference does by hand what the two ranks
    # do (each half of the batch with its rank's noise, gradients averaged).
    # The same float32 operations in the same order, so equal to float
    # rounding: 1e-6 relative (they come out bit-identical here).
    env = environment(KERAS_BACKEND="torch", STEPS=3)
    with processes() as start, open(tmp_path / "log", "w") as log:
        command = [*torchrun(2, free_port()), "processes.py", "torch_processes", str(tmp_path)]
        codes = wait_all([start(command, env, log)])
        reference = start(
            [sys.executable, "processes.py", "torch_reference", str(tmp_path)], env, log
        )
        codes += wait_all([reference])
    assert codes == [0, 0], (tmp_path / "log").read_text()[-4000:]
    ranks = read_results(tmp_path, "torch_processes")
    (want,) = read_results(tmp_path, "torch_reference")
    assert [r["process"] for r in ranks] == [0, 1] and ranks[0]["processes"] == 2
    assert ranks[0]["losses"] == ranks[1]["losses"] and len(ranks[0]["losses"]) == 3
    # Every weight trained, and weights, Adam moments and step count agree.
    assert all(want["initial"][k] != want["weights"][k] for k in want["initial"])
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert ranks[0]["weights"].keys() == want["weights"].keys()
    for path, values in want["weights"].items():
        np.testing.assert_allclose(ranks[0]["weights"][path], values, rtol=1e-6, atol=1e-9)


@pytest.mark.backends("jax")
@pytest.mark.slow
def test_jax_two_processes_form_one_mesh_and_match_one_process(tmp_path):
    port = free_port()
    env = environment(
        KERAS_BACKEND="jax",
        XLA_FLAGS=xla_flags(2),
        COORDINATOR=f"127.0.0.1:{port}",
        PROCESSES=2,
    )
    one = environment(KERAS_BACKEND="jax", XLA_FLAGS=xla_flags(4))
    with processes() as start, open(tmp_path / "log", "w") as log:
        started = [
            start(
                [sys.executable, "processes.py", "jax_processes", str(tmp_path)],
                {**env, "PROCESS": str(index)},
                log,
            )
            for index in (0, 1)
        ]
        started.append(
            start([sys.executable, "processes.py", "jax_reference", str(tmp_path)], one, log)
        )
        codes = wait_all(started)
    assert codes == [0, 0, 0], (tmp_path / "log").read_text()[-4000:]
    first, second = read_results(tmp_path, "jax_processes")
    (want,) = read_results(tmp_path, "jax_reference")
    assert first["devices"] == second["devices"] == want["devices"] == 4
    for kind in ("data", "model"):
        assert len(first[kind]) == 5
        assert first[kind] == second[kind]  # one global loss
        assert_relatively_close(first[kind], want[kind], 1e-4)
    # mlp_hidden (32, 128) split column-wise 4 ways over the model axis,
    # which spans the processes: each holds one half, a quarter per device.
    assert first["kernel_shape"] == [32, 128]
    assert first["kernel_local_shards"] == second["kernel_local_shards"] == [[32, 32]] * 2
    halves = [first["kernel_local_columns"], second["kernel_local_columns"]]
    assert sorted(halves) == [[[0, 32], [32, 64]], [[64, 96], [96, 128]]]


@pytest.mark.backends("tensorflow")
@pytest.mark.slow
def test_tf_two_workers_match_mirrored_strategy_in_one_process(tmp_path):
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    with processes() as start, open(tmp_path / "log", "w") as log:
        started = []
        for index in (0, 1):
            config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            env = environment(KERAS_BACKEND="tensorflow", TF_CONFIG=json.dumps(config))
            command = [sys.executable, "processes.py", "tf_processes", str(tmp_path)]
            started.append(start(command, env, log))
        command = [sys.executable, "processes.py", "tf_reference", str(tmp_path)]
        started.append(start(command, environment(KERAS_BACKEND="tensorflow"), log))
        codes = wait_all(started)
    assert codes == [0, 0, 0], (tmp_path / "log").read_text()[-4000:]
    first, second = read_results(tmp_path, "tf_processes")
    (want,) = read_results(tmp_path, "tf_reference")
    assert [first["process"], second["process"]] == [0, 1]
    assert first["replicas"] == want["replicas"] == 2
    assert first["strategy"] == "CollectiveAllReduceStrategy"  # MultiWorkerMirroredStrategy
    assert want["strategy"] == "MirroredStrategy"
    assert first["losses"] == second["losses"] and len(first["losses"]) == 5
    assert_relatively_close(first["losses"], want["losses"], 1e-4)


# The CLI on each backend: a killed process, the run folder, resuming in
# two processes.

STEPS = 8
PERIOD = 2
TRAIN = [
    "-m",
    "keras_simple_diffusion",
    *tiny_train_command(steps=STEPS, checkpoint_every=PERIOD, sample_every=STEPS, batch_size=16),
]
RESUME = TRAIN[:3]  # python -m keras_simple_diffusion train
# What the surviving processes print when their peer is SIGKILLed.
KILLED_PEER_MESSAGES = {
    "torch": ("Signal 9 (SIGKILL)", "another process stopped"),
    "jax": ("unhealthy", "heartbeat"),
    "tensorflow": ("Connection reset by peer", "Unavailable"),
}


def backed_up_epoch(run_dir):
    path = run_dir / "backup" / "training_metadata.json"
    try:
        return json.loads(path.read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def wait_for_epoch(run_dir, epoch, started, timeout=600):
    deadline = time.monotonic() + timeout
    while backed_up_epoch(run_dir) < epoch:
        assert all(p.poll() is None for p in started), "training ended before the backup"
        assert time.monotonic() < deadline, f"no backup of epoch {epoch} after {timeout} s"
        time.sleep(0.1)


def worker_pid(marker, rank):
    """The pid of the torchrun worker of `rank` whose environment has `marker`."""
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            variables = (entry / "environ").read_bytes().split(b"\0")
            if marker.encode() in variables and f"RANK={rank}".encode() in variables:
                return int(entry.name)
    return None


def launch_two(start, log, backend, arguments, env):
    """`python ARGUMENTS --distribution data` in two processes of `backend`'s
    engine on 127.0.0.1; returns what was started (torchrun: one launcher)."""
    command = [*arguments, "--distribution", "data"]
    if backend == "torch":
        return [start([*torchrun(2, free_port()), *command], env, log)]
    if backend == "jax":
        jax_env = {
            **env,
            "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{free_port()}",
            "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
        }
        return [
            start(
                [sys.executable, *command],
                {**jax_env, "KERAS_DISTRIBUTION_PROCESS_ID": str(i)},
                log,
            )
            for i in (0, 1)
        ]
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    configs = [
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}} for i in (0, 1)
    ]
    return [
        start([sys.executable, *command], {**env, "TF_CONFIG": json.dumps(c)}, log) for c in configs
    ]


def kill_second_process(backend, marker, started):
    if backend == "torch":
        os.kill(worker_pid(marker, 1), signal.SIGKILL)
    else:
        os.killpg(started[1].pid, signal.SIGKILL)


@pytest.mark.backends("torch", "jax", "tensorflow")
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds torchrun's ranks in /proc")
def test_cli_a_killed_process_stops_the_other_and_the_run_resumes_in_two_processes(tmp_path):
    backend = keras.config.backend()
    runs = tmp_path / "runs"
    latest = runs / "latest"
    marker = f"KSD_TEST_RUN={uuid.uuid4().hex}"
    # One device a JAX process; the other processes' private run folders
    # (JAX, TensorFlow) go under tmp_path.
    env = environment(
        KERAS_BACKEND=backend,
        KSD_TEST_RUN=marker.split("=", 1)[1],
        XLA_FLAGS=xla_flags(1),
        TMPDIR=tmp_path,
    )
    log_path = tmp_path / "log"
    with processes() as start, open(log_path, "w") as log:
        # Two processes; the second is killed once a period is backed up:
        # the first fails with a message within KILL_LIMIT_S, no hang.
        started = launch_two(start, log, backend, [*TRAIN, "--runs-dir", str(runs)], env)
        wait_for_epoch(latest, 1, started)
        kill_second_process(backend, marker, started)
        killed = time.monotonic()
        assert wait_all(started[:1], timeout=KILL_LIMIT_S + 30) != [0]
        assert time.monotonic() - killed < KILL_LIMIT_S
        log.flush()
        output = log_path.read_text()
        assert any(m in output for m in KILLED_PEER_MESSAGES[backend]), output[-3000:]

        # Resumed in two processes, to the end.
        started = launch_two(
            start, log, backend, [*RESUME, "--resume", str(latest), "--quiet"], env
        )
        assert wait_all(started) == [0] * len(started), log_path.read_text()[-4000:]

    # One run folder, written by process 0 alone: each period logged once,
    # one TensorBoard file per launch (two), the checkpoints; every step
    # trained once.
    assert sorted(p.name for p in runs.iterdir() if p.name != "latest") == [latest.resolve().name]
    run_dir = latest.resolve()
    with open(run_dir / "log.csv") as file:
        epochs = [int(line.split(",")[0]) for line in file.readlines()[1:]]
    assert epochs == list(range(STEPS // PERIOD))
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 2
    assert (run_dir / "checkpoints" / f"step_{STEPS:06d}.keras").exists()
    assert not (run_dir / "backup").exists()

    # The two-process model loads and samples in this one process.
    model = keras.saving.load_model(run_dir / "model.keras")
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == STEPS
    images = model.generate(num_images=2, steps=2, seed=0)
    assert tuple(images.shape) == (2, 16, 16, 1)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(images)))


class _StopAfterFirstPeriod(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


@pytest.mark.slow
def test_a_process_that_does_not_write_restores_the_backup_and_writes_nothing(tmp_path):
    from keras_simple_diffusion.training import NaNSafeBackupAndRestore, TrainConfig
    from keras_simple_diffusion.training.callbacks import RunLog
    from keras_simple_diffusion.training.trainer import build_model, load_training_data

    config = TrainConfig(model="uvit-tiny", image_size=16, batch_size=8, steps=4, verbose=0)
    info, num_classes = load_training_data(config)
    backup_dir, log_path = tmp_path / "backup", tmp_path / "log.csv"
    model = build_model(config, info.image_size, info.channels, num_classes)
    with pytest.raises(KeyboardInterrupt):  # killed after its first period's backup
        writer = [RunLog(str(log_path)), NaNSafeBackupAndRestore(str(backup_dir))]
        callbacks = [*writer, _StopAfterFirstPeriod()]
        model.fit(info.dataset, epochs=2, steps_per_epoch=2, verbose=0, callbacks=callbacks)
    files_before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}

    reader = build_model(config, info.image_size, info.channels, num_classes)
    run_log = RunLog(str(log_path), write=False)
    backup = NaNSafeBackupAndRestore(str(backup_dir), write=False)
    reader.fit(info.dataset, epochs=2, steps_per_epoch=2, verbose=0, callbacks=[run_log, backup])
    assert reader._initial_epoch == 1  # resumed at the saved period
    assert int(keras.ops.convert_to_numpy(reader.optimizer.iterations)) == 4
    assert [row["epoch"] for row in run_log._rows] == [0, 1]  # the saved row, then its own
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == files_before
