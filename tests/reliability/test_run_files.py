"""A run folder survives a kill at any moment: partial files are skipped,
unreadable ones fall back to the previous good one and are named, and only
good states are saved."""

import dataclasses
import json
import os

import keras
import pytest

from keras_simple_diffusion.cli import main
from keras_simple_diffusion.training import TrainConfig, runs, train
from keras_simple_diffusion.training.callbacks import (
    EMACheckpoint,
    LatestPointer,
    NaNSafeBackupAndRestore,
    RunLog,
    divergence,
)
from keras_simple_diffusion.training.trainer import build_model

TINY = TrainConfig(
    model="uvit-tiny", image_size=16, batch_size=8, steps=8, sample_steps=2, verbose=0
)


def _model():
    return build_model(TINY, 16, 1, 10)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A complete `.keras` file of a tiny model."""
    path = tmp_path_factory.mktemp("checkpoint") / "step_000004.keras"
    _model().save(path)
    return path


def _run_folder(tmp_path, checkpoint):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    os.link(checkpoint, run_dir / "checkpoints" / "step_000004.keras")
    return run_dir


def _sample(path, tmp_path):
    return main(
        ["sample", "--checkpoint", str(path), "--steps", "1", "--num-images", "1"]
        + ["--out", str(tmp_path / "out.png")]
    )


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_partial_checkpoints_are_skipped(tmp_path, checkpoint, capsys):
    run_dir = _run_folder(tmp_path, checkpoint)
    # A kill while step 8 was written: today's partial name, and the
    # temporary name older versions used, which matched `step_*.keras`.
    (run_dir / "checkpoints" / ".partial-123-step_000008.keras").write_bytes(b"PK\x03")
    (run_dir / "checkpoints" / "step_000008.keras.tmp.keras").write_bytes(b"PK\x03")
    assert _sample(run_dir, tmp_path) == 0
    assert f"from {run_dir / 'checkpoints' / 'step_000004.keras'}" in capsys.readouterr().out


def test_a_resumed_run_removes_the_partial_files_of_the_killed_one(tmp_path, checkpoint):
    run_dir = _run_folder(tmp_path, checkpoint)
    (run_dir / "checkpoints" / ".partial-123-step_000008.keras").write_bytes(b"PK\x03")
    (run_dir / "backup").mkdir()
    (run_dir / "backup" / ".partial-123-latest.weights.h5").write_bytes(b"")
    for callback in (
        EMACheckpoint(str(run_dir / "checkpoints"), every=4),
        NaNSafeBackupAndRestore(str(run_dir / "backup")),
    ):
        callback.set_model(_model())
        callback.on_train_begin()
    assert os.listdir(run_dir / "checkpoints") == ["step_000004.keras"]
    assert os.listdir(run_dir / "backup") == []


def test_checkpoints_sort_by_step_not_name(tmp_path, checkpoint):
    run_dir = _run_folder(tmp_path, checkpoint)
    os.link(checkpoint, run_dir / "checkpoints" / "step_1000000.keras")
    assert runs.checkpoints(run_dir) == [
        str(run_dir / "checkpoints" / "step_1000000.keras"),
        str(run_dir / "checkpoints" / "step_000004.keras"),
    ]


def test_truncated_model_falls_back_to_the_newest_checkpoint(tmp_path, checkpoint, capsys):
    run_dir = _run_folder(tmp_path, checkpoint)
    (run_dir / "model.keras").write_bytes(checkpoint.read_bytes())
    _truncate(run_dir / "model.keras")
    (run_dir / "checkpoints" / "step_000008.keras").write_bytes(b"")
    assert _sample(run_dir, tmp_path) == 0
    captured = capsys.readouterr()
    assert f"from {run_dir / 'checkpoints' / 'step_000004.keras'}" in captured.out
    notices = [line for line in captured.err.splitlines() if line.startswith("notice:")]
    assert notices == [
        f"notice: cannot load {run_dir / 'model.keras'} (not a complete .keras archive "
        f"(truncated or corrupt)); loading {run_dir / 'checkpoints' / 'step_000008.keras'} "
        "instead",
        f"notice: cannot load {run_dir / 'checkpoints' / 'step_000008.keras'} (not a complete "
        ".keras archive (truncated or corrupt)); loading "
        f"{run_dir / 'checkpoints' / 'step_000004.keras'} instead",
    ]


def test_a_truncated_file_given_by_name_is_named(tmp_path, checkpoint, capsys):
    path = tmp_path / "model.keras"
    path.write_bytes(checkpoint.read_bytes())
    _truncate(path)
    assert _sample(path, tmp_path) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: No checkpoint of {str(path)!r} can be loaded: cannot load {path} "
        "(not a complete .keras archive (truncated or corrupt))."
    )


def test_a_plain_keras_model_is_refused(tmp_path, capsys):
    path = tmp_path / "dense.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    assert _sample(path, tmp_path) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .startswith(f"error: {path} is not a simple-diffusion model (it holds a Sequential)")
    )


# Backups ---------------------------------------------------------------


def _back_up_twice(backup_dir):
    """Backs up a model at step 3 (epoch 1), then at step 6 (epoch 2): the
    first state is kept as the `.bkp` files."""
    model = _model()
    backup = NaNSafeBackupAndRestore(str(backup_dir))
    backup.set_model(model)
    model.optimizer.build(model.trainable_variables)
    for epoch, step in ((0, 3), (1, 6)):
        model.optimizer.iterations.assign(step)
        backup.on_epoch_end(epoch, {"loss": 0.5})
    return backup


def _restore(backup_dir):
    model = _model()
    backup = NaNSafeBackupAndRestore(str(backup_dir))
    backup.set_model(model)
    backup.on_train_begin()
    return model._initial_epoch, int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def test_backup_restores_the_newest_state(tmp_path):
    _back_up_twice(tmp_path)
    assert _restore(tmp_path) == (2, 6)


@pytest.mark.parametrize(
    "name,corrupt,reason",
    [
        ("training_metadata.json", lambda path: path.write_text(""), "JSONDecodeError"),
        ("random_states.npz", lambda path: path.write_bytes(b"not numpy"), ""),
        ("latest.weights.h5", _truncate, ""),
        # A kill between the weights and the metadata: their steps differ.
        (
            "training_metadata.json",
            lambda path: path.write_text(json.dumps({"epoch": 1, "batch": 0, "step": 3})),
            "holds step 6",
        ),
    ],
)
def test_corrupt_backup_is_named_and_the_previous_one_restored(
    tmp_path, capsys, name, corrupt, reason
):
    _back_up_twice(tmp_path)
    corrupt(tmp_path / name)
    assert _restore(tmp_path) == (1, 3)
    notice = capsys.readouterr().err.strip()
    assert notice.startswith("notice: ") and notice.endswith("; resumed from the previous backup")
    assert str(tmp_path / name) in notice
    assert reason in notice


def test_corrupt_backup_without_a_previous_one_is_named(tmp_path):
    _back_up_twice(tmp_path)
    for name in ("training_metadata.json", "latest.weights.h5", "random_states.npz"):
        os.remove(tmp_path / f"{name}.bkp")
    (tmp_path / "training_metadata.json").write_text("")
    with pytest.raises(
        ValueError,
        match=f"Cannot resume: {tmp_path / 'training_metadata.json'} is unreadable "
        r"\(JSONDecodeError",
    ):
        _restore(tmp_path)


def test_a_backup_of_another_network_is_named_and_kept(tmp_path):
    """A preset whose definition changed since the run began: the error
    says so, and neither backup set is touched (no fallback overwrites)."""
    _back_up_twice(tmp_path)
    files_before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    other = build_model(dataclasses.replace(TINY, model_options={"num_heads": 1}), 16, 1, 10)
    backup = NaNSafeBackupAndRestore(str(tmp_path))
    backup.set_model(other)
    with pytest.raises(ValueError) as raised:
        backup.on_train_begin()
    message = str(raised.value)
    assert message.startswith(
        f"Cannot resume: {tmp_path / 'latest.weights.h5'} holds the weights of another network "
        "than this run builds ("
    )
    assert message.endswith("; the backup is kept.") and "\n" not in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files_before


# Good states -----------------------------------------------------------


def test_divergence_is_a_non_finite_loss_or_one_far_above_the_earlier_ones():
    assert divergence(0.5, []) is None
    assert divergence(float("nan"), []) == "the loss became nan"
    assert divergence(float("inf"), [0.5]) == "the loss became inf"
    assert divergence(40.0, [1.0, 0.5, 0.4]) is None  # 80x the median 0.5
    assert divergence(5e13, [1.0, 0.5, 0.4]) == (
        "the loss reached 5e+13, over 100x the median (0.5) of the earlier periods"
    )
    # Non-finite earlier losses are left out of the median.
    assert divergence(60.0, [1.0, 0.5, float("nan"), 0.4]) == (
        "the loss reached 60, over 100x the median (0.5) of the earlier periods"
    )


def test_a_diverged_period_stops_training_and_saves_no_checkpoint(tmp_path):
    model = _model()
    run_log = RunLog(str(tmp_path / "log.csv"))
    callbacks = [
        run_log,
        EMACheckpoint(str(tmp_path / "checkpoints"), every=2),
        NaNSafeBackupAndRestore(str(tmp_path / "backup")),
    ]
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    for epoch, loss in enumerate([0.9, 0.5, 5e13]):
        model.optimizer.iterations.assign(2 * (epoch + 1))
        for callback in callbacks:
            callback.on_epoch_end(epoch, {"loss": loss})
    assert model.stop_training
    assert run_log.divergence == (
        "the loss reached 5e+13, over 100x the median (0.7) of the earlier periods at step 6"
    )
    assert runs.latest_checkpoint(tmp_path) == str(tmp_path / "checkpoints" / "step_000004.keras")
    with open(tmp_path / "backup" / "training_metadata.json") as file:
        assert json.load(file)["step"] == 4
    assert [row["loss"] for row in runs.read_log(tmp_path / "log.csv")] == [0.9, 0.5, 5e13]


def test_resumed_log_has_every_epoch_once(tmp_path):
    path = tmp_path / "log.csv"
    # Epochs 0-2 logged; the kill came before epoch 2 was backed up, in
    # the middle of writing epoch 3's row.
    path.write_text(
        "epoch,step,loss,learning_rate\n0,2,0.9,0.001\n1,4,0.8,0.001\n2,6,0.7,0.001\n3,8,0.6"
    )
    model = _model()
    run_log = RunLog(str(path))
    run_log.set_model(model)
    run_log.on_train_begin()
    for epoch in (2, 3):
        model.optimizer.iterations.assign(2 * (epoch + 1))
        run_log.on_epoch_end(epoch, {"loss": 0.5})
    lines = path.read_text().splitlines()
    assert lines[:3] == ["epoch,step,loss,learning_rate", "0,2,0.9,0.001", "1,4,0.8,0.001"]
    assert [line.split(",")[:3] for line in lines[3:]] == [["2", "6", "0.5"], ["3", "8", "0.5"]]


# runs/latest -----------------------------------------------------------


def test_latest_pointer_waits_for_a_checkpoint(tmp_path, checkpoint):
    run_dir = tmp_path / "runs" / "20250101-000000"
    (run_dir / "checkpoints").mkdir(parents=True)
    pointer = LatestPointer(str(run_dir))
    pointer.set_model(_model())
    pointer.on_train_begin()
    pointer.on_epoch_end(0)
    assert not os.path.lexists(tmp_path / "runs" / "latest")
    os.link(checkpoint, run_dir / "checkpoints" / "step_000004.keras")
    pointer.on_epoch_end(1)
    assert os.readlink(tmp_path / "runs" / "latest") == "20250101-000000"


@pytest.mark.slow
def test_latest_points_at_a_run_only_once_it_has_a_checkpoint(tmp_path):
    root = tmp_path / "runs"
    # No grids or TensorBoard: only the checkpoints matter here.
    tiny = dataclasses.replace(
        TINY, steps=2, checkpoint_every=2, sample_every=100, tensorboard=False
    )
    _, good_run = train(tiny, runs_root=str(root))
    assert os.path.realpath(root / "latest") == os.path.realpath(good_run)
    diverging = dataclasses.replace(
        tiny, steps=4, checkpoint_every=4, learning_rate=1e30, warmup_steps=0
    )
    with pytest.raises(RuntimeError, match="Training diverged: the loss became nan"):
        train(diverging, runs_root=str(root))
    assert len(os.listdir(root)) == 3  # two runs and latest
    assert os.path.realpath(root / "latest") == os.path.realpath(good_run)


def test_latest_stays_on_a_run_resumed_through_it(tmp_path):
    run_dir = tmp_path / "runs" / "20250101-000000"
    run_dir.mkdir(parents=True)
    runs.point_latest(str(run_dir))
    runs.point_latest(str(tmp_path / "runs" / "latest"))
    assert os.readlink(tmp_path / "runs" / "latest") == "20250101-000000"
