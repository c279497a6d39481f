"""Training survives a kill (resume at the saved step) and a NaN loss."""

import csv
import json
import os
import signal
import time

import keras
import numpy as np
import pytest

from keras_simple_diffusion.cli import main
from keras_simple_diffusion.training import NaNSafeBackupAndRestore, TrainConfig
from keras_simple_diffusion.training.commands import tiny_train_command
from keras_simple_diffusion.training.trainer import build_model, load_training_data

STEPS = 24
PERIOD = 4


def _wait_for(path, process, timeout=600):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert process.poll() is None, "training ended before its first backup"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.05)


def _logged_epochs(run_dir):
    with open(os.path.join(run_dir, "log.csv")) as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


@pytest.mark.slow
def test_killed_run_resumes_at_the_saved_step(tmp_path, start_cli):
    runs_dir = tmp_path / "runs"
    process = start_cli(
        tiny_train_command(steps=STEPS, checkpoint_every=PERIOD, sample_every=STEPS)
        + ["--runs-dir", str(runs_dir)]
    )
    _wait_for(runs_dir / "latest" / "backup" / "training_metadata.json", process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    run_dir = os.path.realpath(runs_dir / "latest")
    with open(os.path.join(run_dir, "backup", "training_metadata.json")) as file:
        saved_epoch = json.load(file)["epoch"]
    assert 1 <= saved_epoch < STEPS // PERIOD
    assert not os.path.exists(os.path.join(run_dir, "model.keras"))

    assert main(["train", "--resume", str(runs_dir / "latest")]) == 0

    # The resumed fit starts at the saved period and runs to the end; every
    # period is logged once, even one logged before the kill but not backed up.
    assert _logged_epochs(run_dir) == list(range(STEPS // PERIOD))
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == STEPS
    assert not os.path.exists(os.path.join(run_dir, "backup"))


def _state(model):
    return [
        (v.path, keras.ops.convert_to_numpy(v)) for v in model.variables + model.optimizer.variables
    ]


class _Interrupt(keras.callbacks.Callback):
    """Records the state at the end of the first epoch (just backed up), then
    stops `fit` abruptly, like a kill.

    The state is read here, not after `fit`: on JAX, `fit` overwrites the
    weights with their EMA on the way out, even when interrupted."""

    def on_epoch_end(self, epoch, logs=None):
        self.state = _state(self.model)
        raise KeyboardInterrupt


def test_resume_restores_weights_optimizer_and_noise_state(tmp_path):
    config = TrainConfig(
        model="uvit-tiny",
        image_size=16,
        batch_size=8,
        steps=4,
        checkpoint_every=2,
        sample_every=4,
        verbose=0,
    )
    info, num_classes = load_training_data(config)
    backup_dir = str(tmp_path / "backup")
    model = build_model(config, info.image_size, info.channels, num_classes)
    interrupt = _Interrupt()
    with pytest.raises(KeyboardInterrupt):
        model.fit(
            info.dataset,
            epochs=2,
            steps_per_epoch=2,
            shuffle=False,
            verbose=0,
            callbacks=[NaNSafeBackupAndRestore(backup_dir), interrupt],
        )

    resumed = build_model(config, info.image_size, info.channels, num_classes)
    restore = NaNSafeBackupAndRestore(backup_dir)
    restore.set_model(resumed)
    restore.on_train_begin()

    assert resumed._initial_epoch == 1
    restored = _state(resumed)
    assert len(restored) == len(interrupt.state)
    for (path, want), (_, got) in zip(interrupt.state, restored):
        np.testing.assert_array_equal(got, want, err_msg=path)
    assert int(keras.ops.convert_to_numpy(resumed.optimizer.iterations)) == 2


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    status = main(
        tiny_train_command(steps=6, checkpoint_every=1, sample_every=6)
        + ["--learning-rate", "1e30", "--warmup-steps", "0", "--runs-dir", str(runs_dir)]
    )
    assert status == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: Training diverged: the loss became nan at step ")
    run_dir = os.path.realpath(runs_dir / "latest")
    assert not os.path.exists(os.path.join(run_dir, "model.keras"))
    checkpoints = sorted(os.listdir(os.path.join(run_dir, "checkpoints")))
    assert checkpoints and checkpoints[-1] < "step_000006.keras"
    assert (
        f"Last good checkpoint: {os.path.join(run_dir, 'checkpoints', checkpoints[-1])};"
        in (err[-1])
    )
    assert os.path.exists(os.path.join(run_dir, "backup", "latest.weights.h5"))
    with open(os.path.join(run_dir, "backup", "training_metadata.json")) as file:
        assert json.load(file)["epoch"] == len(checkpoints)
