"""Shared fixtures: one tiny training run per test session, made with the CLI."""

import os
import subprocess
import sys

import pytest

from keras_simple_diffusion.backend import TF_XLA_VARIABLE
from keras_simple_diffusion.cli import main
from keras_simple_diffusion.training.commands import tiny_train_command

BACKENDS = ("jax", "tensorflow", "torch")
# A seconds-sized run: 16 x 16 digits, the tiny U-ViT, 4 steps.
TINY_TRAIN = tiny_train_command(steps=4, checkpoint_every=2, sample_every=2, batch_size=16)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Path of a finished tiny run folder (its `runs/latest`), trained with
    the package's XLA on TensorFlow whatever `KSD_TF_XLA` the suite sets."""
    runs_dir = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TF_XLA_VARIABLE, "1")
        assert main(TINY_TRAIN + ["--runs-dir", str(runs_dir)]) == 0
    return runs_dir / "latest"


@pytest.fixture
def other_backend():
    """A backend other than the one under test."""
    import keras

    return BACKENDS[(BACKENDS.index(keras.config.backend()) + 1) % len(BACKENDS)]


def cli_command(args):
    return [sys.executable, "-m", "keras_simple_diffusion", *args]


def cli_env(backend=None):
    env = dict(os.environ)
    if backend:
        env["KERAS_BACKEND"] = backend
    return env


@pytest.fixture
def run_cli():
    """Runs `python -m keras_simple_diffusion ARGS` in a fresh process."""

    def run(args, backend=None, timeout=600):
        return subprocess.run(
            cli_command(args),
            env=cli_env(backend),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def start_cli():
    """Starts `python -m keras_simple_diffusion ARGS` without waiting; kills it at teardown."""
    processes = []

    def start(args):
        process = subprocess.Popen(
            cli_command(args), env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
