"""Run folders: `runs/<timestamp>/` with a `runs/latest` pointer.

A run folder holds everything one training run writes:

```
runs/20250101-120000/
  config.json        the TrainConfig, to resume or inspect the run
  log.csv            per-epoch (= per-period) step, loss and learning rate
  loss.png           log.csv as a plot, redrawn at every checkpoint
  model.keras        the final model, EMA weights (written when training ends)
  checkpoints/       step_XXXXXX.keras every `checkpoint_every` steps (EMA)
  samples/           step_XXXXXX.png grids every `sample_every` steps (EMA)
  tensorboard/       TensorBoard events: loss, learning rate, grids, config
  backup/            the training state to resume from (deleted at the end)
  evaluation.json    metrics of `simple-diffusion evaluate`, with report.png
```

Every file is written atomically (`keras_simple_diffusion.files`): a killed
run leaves complete files, or dot-prefixed partial ones that readers skip.
`runs/latest` points at the run that last wrote a checkpoint (never at a run
with nothing to sample yet): a symlink, or, where symlinks are not
available, a text file holding the run's folder name.
"""

import csv
import datetime
import os
import re
import sys
import zipfile

from keras_simple_diffusion import files

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
LOG_FILE = "log.csv"
LOSS_PLOT = "loss.png"
CHECKPOINTS_DIR = "checkpoints"
SAMPLES_DIR = "samples"
TENSORBOARD_DIR = "tensorboard"
BACKUP_DIR = "backup"
LATEST = "latest"
# Exactly what `EMACheckpoint` writes: no partial or leftover temporary file.
CHECKPOINT_NAME = re.compile(r"step_(\d+)\.keras")


class CheckpointNotFoundError(FileNotFoundError):
    """Raised when a `--checkpoint` names no model file."""


def new_run_dir(root="runs"):
    """Creates and returns a fresh `root/<timestamp>` folder.

    Example:
    >>> run_dir = new_run_dir("runs")  # doctest: +SKIP
    """
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = os.path.join(root, stamp)
    suffix = 1
    while os.path.exists(run_dir):
        suffix += 1
        run_dir = os.path.join(root, f"{stamp}-{suffix}")
    os.makedirs(run_dir)
    return run_dir


def point_latest(run_dir):
    """Points `<root>/latest` at `run_dir` (symlink, else a text file).

    The pointer is replaced atomically: a reader sees the old run or the new
    one, never no pointer.
    """
    # The real folder: `run_dir` may be given as `latest` itself (a resume).
    root, name = os.path.split(os.path.realpath(resolve_run_dir(run_dir)))
    latest = os.path.join(root, LATEST)
    if os.path.exists(latest) and not (os.path.islink(latest) or os.path.isfile(latest)):
        raise FileExistsError(f"{latest!r} exists and is not a link or a file; remove it.")
    try:
        with files.atomic_path(latest) as temporary:
            os.symlink(name, temporary, target_is_directory=True)
    except OSError:
        files.write_text(latest, name + "\n")


def resolve_run_dir(path):
    """Follows a `latest` text-file pointer; returns the run folder path."""
    if os.path.isfile(path) and os.path.basename(path) == LATEST:
        with open(path) as file:
            return os.path.join(os.path.dirname(path), file.read().strip())
    return path


def checkpoints(run_dir):
    """The run's complete `checkpoints/step_*.keras` files, newest first."""
    folder = os.path.join(run_dir, CHECKPOINTS_DIR)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    steps = sorted(
        (int(match[1]), name) for name in names if (match := CHECKPOINT_NAME.fullmatch(name))
    )
    return [os.path.join(folder, name) for _, name in reversed(steps)]


def candidates(run_dir):
    """The `.keras` files of a run, best first: `model.keras`, then the
    checkpoints from the newest."""
    final = os.path.join(run_dir, MODEL_FILE)
    return ([final] if os.path.isfile(final) else []) + checkpoints(run_dir)


def latest_checkpoint(run_dir):
    """The newest `.keras` file of a run (see `candidates`), or None."""
    found = candidates(run_dir)
    return found[0] if found else None


def _checkpoint_files(path):
    """The `.keras` files that `path` (a file, a run folder or a `latest`
    pointer) names, to try in order; CheckpointNotFoundError names what is
    missing."""
    path = resolve_run_dir(os.path.expanduser(path))
    if os.path.isfile(path):
        if not path.endswith(".keras"):
            raise CheckpointNotFoundError(
                f"Checkpoint {path!r} is not a .keras file; pass a run folder or a .keras file."
            )
        return [path]
    if os.path.isdir(path):
        found = candidates(path)
        if not found:
            raise CheckpointNotFoundError(
                f"Run folder {path!r} has no {MODEL_FILE} and no {CHECKPOINTS_DIR}/*.keras yet."
            )
        return found
    raise CheckpointNotFoundError(f"Checkpoint {path!r} does not exist.")


def _read_model(path):
    """Loads one `.keras` file; a ValueError says why it cannot be read."""
    import keras

    if not zipfile.is_zipfile(path):
        raise ValueError("not a complete .keras archive (truncated or corrupt)")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Any failure to read the archive means it is unusable.
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise ValueError(f"{type(error).__name__}: {lines[0] if lines else ''}") from None


def load_checkpoint(path):
    """Loads the `SimpleDiffusion` model that `path` names.

    A run folder (or `latest`) gives its `model.keras`, else its newest
    checkpoint; when that file cannot be read (a truncated copy), the next
    newest is loaded instead, with a one-line notice on stderr.

    Args:
        path: a `.keras` file, a run folder, or a `latest` pointer.

    Returns:
        `(model, checkpoint)`: the model and the file it was read from.

    Raises:
        CheckpointNotFoundError: when `path` names no `.keras` file.
        ValueError: when no file can be read, naming each with its reason,
            or when the file holds another kind of Keras model.

    Example:
    >>> model, checkpoint = load_checkpoint("runs/latest")  # doctest: +SKIP
    """
    from keras_simple_diffusion import SimpleDiffusion  # loads the package: registers the classes

    failures = []
    for checkpoint in _checkpoint_files(path):
        if failures:
            print(f"notice: {failures[-1]}; loading {checkpoint} instead", file=sys.stderr)
        try:
            model = _read_model(checkpoint)
        except ValueError as error:
            failures.append(f"cannot load {checkpoint} ({error})")
            continue
        if not isinstance(model, SimpleDiffusion):
            raise ValueError(
                f"{checkpoint} is not a simple-diffusion model (it holds a "
                f"{type(model).__name__}); pass a checkpoint written by `simple-diffusion train`."
            )
        return model, checkpoint
    raise ValueError(f"No checkpoint of {path!r} can be loaded: {'; '.join(failures)}.")


def read_log(path):
    """The rows of a run's `log.csv` that have an epoch and a loss, as dicts
    of floats. A row cut short (by a kill) is left out, and so are values
    that are not numbers (the "NA" of Keras' CSVLogger). A missing file gives
    no rows."""
    if not os.path.isfile(path):
        return []
    rows = []
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            if None in row.values():  # cut short
                continue
            values = {}
            for key, value in row.items():
                try:
                    values[key] = float(value)
                except (TypeError, ValueError):
                    continue
            if "epoch" in values and "loss" in values:
                rows.append(values)
    return rows
