"""Kill -9 a real training run at random moments; check what survives.

Each trial starts a tiny `simple-diffusion train`, kills it (SIGKILL) at a
random moment, then checks that

- `sample --checkpoint RUNS/latest` works whenever the run has written a
  checkpoint (and that `latest` is absent or elsewhere before that), and
- `train --resume RUN` finishes the run at the requested step, with every
  epoch logged once in log.csv.

A first, uninterrupted run measures how long training takes; kill moments
are drawn uniformly from that span, counted from the moment the run folder
appears. Prints one line per trial and a summary table; exits 1 if any
trial failed.

    python scripts/kill_test.py --runs 20
    KERAS_BACKEND=jax python scripts/kill_test.py --runs 3 --seed 1
"""

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from keras_simple_diffusion import files
from keras_simple_diffusion.training import runs
from keras_simple_diffusion.training.commands import tiny_train_command

STEPS = 40
TRAIN = tiny_train_command(steps=STEPS, checkpoint_every=5, sample_every=20)
# The longest any one command may take before the trial counts as failed.
COMMAND_TIMEOUT = 900
# Kill moments cover this fraction of an uninterrupted run: its last part is
# writing model.keras and exiting, and a shared machine's speed varies.
KILL_SPAN = 0.8


def cli(args, log):
    """Runs `python -m keras_simple_diffusion ARGS`; returns (status, last stderr line)."""
    with open(log, "a") as out:
        out.write(f"$ simple-diffusion {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(
            [sys.executable, "-m", "keras_simple_diffusion", *args],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        out.write(result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return result.returncode, lines[-1] if lines else ""


def run_folders(runs_dir):
    return [
        os.path.join(runs_dir, name)
        for name in sorted(os.listdir(runs_dir))
        if name != "latest" and os.path.isdir(os.path.join(runs_dir, name))
    ]


def start_training(runs_dir, log):
    with open(log, "a") as out:  # the child keeps its own handle
        out.write(f"$ simple-diffusion {' '.join(TRAIN)} --runs-dir {runs_dir}\n")
        out.flush()
        return subprocess.Popen(
            [sys.executable, "-m", "keras_simple_diffusion", *TRAIN, "--runs-dir", runs_dir],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for_run_folder(process, runs_dir):
    """Seconds until the run folder appears (None if the process ended first)."""
    start = time.monotonic()
    while not run_folders(runs_dir):
        if process.poll() is not None or time.monotonic() - start > COMMAND_TIMEOUT:
            return None
        time.sleep(0.05)
    return time.monotonic() - start


def calibrate(work):
    """Seconds of an uninterrupted run from its folder's creation to its end."""
    runs_dir = os.path.join(work, "calibration")
    os.makedirs(runs_dir)
    log = os.path.join(work, "calibration.log")
    process = start_training(runs_dir, log)
    if wait_for_run_folder(process, runs_dir) is None:
        sys.exit(f"The calibration run ended before it made a run folder; see {log}")
    start = time.monotonic()
    if process.wait(timeout=COMMAND_TIMEOUT):
        sys.exit(f"The calibration run failed; see {log}")
    return time.monotonic() - start


def logged(run_dir):
    """`(epoch, step)` of each row of the run's log.csv."""
    with open(os.path.join(run_dir, "log.csv")) as file:
        return [(int(row["epoch"]), int(row["step"])) for row in csv.DictReader(file)]


def trial(work, index, delay):
    """One kill and the checks after it; returns a dict for the table."""
    runs_dir = os.path.join(work, f"trial{index:02d}")
    os.makedirs(runs_dir)
    log = os.path.join(work, f"trial{index:02d}.log")
    row = {"trial": index, "delay_s": f"{delay:.1f}", "log": log}
    process = start_training(runs_dir, log)
    if wait_for_run_folder(process, runs_dir) is not None:
        time.sleep(delay)
    finished = process.poll() is not None
    if not finished:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    row["killed"] = "no (ended)" if finished else "yes"
    folders = run_folders(runs_dir)
    if not folders or not os.path.isfile(os.path.join(folders[0], "config.json")):
        row.update(state="before config.json", outcome="ok", reason="nothing to resume")
        return row
    run_dir = folders[0]
    checkpoints = runs.checkpoints(run_dir)
    partial = [
        name for folder, _, names in os.walk(run_dir) for name in names if files.is_partial(name)
    ]
    has_model = os.path.isfile(os.path.join(run_dir, "model.keras"))
    row["state"] = f"{len(checkpoints)} ckpt, {len(partial)} partial" + (
        ", model" if has_model else ""
    )
    latest = os.path.join(runs_dir, "latest")

    if checkpoints or has_model:
        status, error = cli(
            ["sample", "--checkpoint", latest, "--steps", "2", "--num-images", "2"]
            + ["--out", os.path.join(runs_dir, "sample.png")],
            log,
        )
        row["sample"] = "ok" if status == 0 else f"exit {status}"
        if status:
            row.update(outcome="FAIL", reason=f"sample: {error}")
            return row
    else:
        row["sample"] = "-"
        if os.path.lexists(latest):
            row.update(outcome="FAIL", reason="runs/latest points at a run with no checkpoint")
            return row

    if has_model:
        row.update(resume="-", outcome="ok", reason="model.keras written before the kill")
        return row
    status, error = cli(["train", "--resume", run_dir], log)
    row["resume"] = "ok" if status == 0 else f"exit {status}"
    if status:
        row.update(outcome="FAIL", reason=f"resume: {error}")
        return row
    # Every period once, the last at the requested step (the optimizer's).
    rows, expected = logged(run_dir), [(epoch, 5 * (epoch + 1)) for epoch in range(STEPS // 5)]
    if not os.path.isfile(os.path.join(run_dir, "model.keras")):
        row.update(outcome="FAIL", reason="the resumed run wrote no model.keras")
    elif rows != expected:
        row.update(outcome="FAIL", reason=f"log.csv (epoch, step) rows {rows}, not {expected}")
    else:
        row.update(outcome="ok", reason="")
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="number of kills (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--work", help="folder for the runs and logs (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="kill_test-")
    os.makedirs(work, exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(f"backend {backend}; runs and logs in {work}", flush=True)
    duration = calibrate(work)
    print(
        f"an uninterrupted run takes {duration:.1f} s from its folder's creation; kills "
        f"drawn from [0, {KILL_SPAN:g} x that]"
    )
    rng = random.Random(args.seed)
    rows = []
    for index in range(args.runs):
        row = trial(work, index, rng.uniform(0, KILL_SPAN * duration))
        rows.append(row)
        print(
            f"trial {index:2d}: kill after {row['delay_s']:>5} s, {row['state']}: "
            f"{row['outcome']} {row['reason']}",
            flush=True,
        )
    columns = ("trial", "delay_s", "killed", "state", "sample", "resume", "outcome", "reason")
    widths = [max(len(name), *(len(str(row.get(name, "-"))) for row in rows)) for name in columns]
    print()
    print("  ".join(name.ljust(width) for name, width in zip(columns, widths)))
    for row in rows:
        print("  ".join(str(row.get(name, "-")).ljust(w) for name, w in zip(columns, widths)))
    failures = [row for row in rows if row["outcome"] != "ok"]
    killed = sum(row["killed"] == "yes" and row.get("resume", "-") != "-" for row in rows)
    print(
        f"\n{len(rows)} trials, {killed} killed before the end and resumed, "
        f"{len(rows) - len(failures)} succeeded, "
        f"{len(failures)} failed" + "".join(f"\n  see {row['log']}" for row in failures)
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
