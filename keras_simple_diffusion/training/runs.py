"""Run folders: `runs/<timestamp>/` with a `runs/latest` pointer.

A run folder holds everything one training run writes:

```
runs/20250101-120000/
  config.json        the TrainConfig, to resume or inspect the run
  log.csv            per-epoch (= per-period) loss, from keras' CSVLogger
  model.keras        the final model, EMA weights (written when training ends)
  checkpoints/       step_XXXXXX.keras every `checkpoint_every` steps (EMA)
  samples/           step_XXXXXX.png grids every `sample_every` steps (EMA)
  backup/            keras BackupAndRestore state (raw weights + optimizer)
```

`runs/latest` is a symlink to the newest run, or, where symlinks are not
available, a text file holding its folder name.
"""

import datetime
import glob
import os

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
LOG_FILE = "log.csv"
CHECKPOINTS_DIR = "checkpoints"
SAMPLES_DIR = "samples"
BACKUP_DIR = "backup"
LATEST = "latest"


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
    """Points `<root>/latest` at `run_dir` (symlink, else a text file)."""
    root, name = os.path.split(os.path.normpath(run_dir))
    latest = os.path.join(root, LATEST)
    if os.path.islink(latest) or os.path.isfile(latest):
        os.remove(latest)
    elif os.path.exists(latest):
        raise FileExistsError(f"{latest!r} exists and is not a link or a file; remove it.")
    try:
        os.symlink(name, latest, target_is_directory=True)
    except OSError:
        with open(latest, "w") as file:
            file.write(name + "\n")


def resolve_run_dir(path):
    """Follows a `latest` text-file pointer; returns the run folder path."""
    if os.path.isfile(path) and os.path.basename(path) == LATEST:
        with open(path) as file:
            return os.path.join(os.path.dirname(path), file.read().strip())
    return path


def latest_checkpoint(run_dir):
    """The newest `.keras` file of a run: `model.keras`, else the last checkpoint.

    Returns None when the run has none yet.
    """
    final = os.path.join(run_dir, MODEL_FILE)
    if os.path.isfile(final):
        return final
    checkpoints = sorted(glob.glob(os.path.join(run_dir, CHECKPOINTS_DIR, "step_*.keras")))
    return checkpoints[-1] if checkpoints else None


def resolve_checkpoint(path):
    """Returns the `.keras` file that `path` (a run folder or a file) names.

    Args:
        path: a `.keras` file, a run folder, or a `latest` pointer.

    Raises:
        CheckpointNotFoundError: naming what is missing.

    Example:
    >>> resolve_checkpoint("runs/latest")  # doctest: +SKIP
    'runs/latest/model.keras'
    """
    path = resolve_run_dir(os.path.expanduser(path))
    if os.path.isfile(path):
        if not path.endswith(".keras"):
            raise CheckpointNotFoundError(
                f"Checkpoint {path!r} is not a .keras file; pass a run folder or a .keras file."
            )
        return path
    if os.path.isdir(path):
        checkpoint = latest_checkpoint(path)
        if checkpoint is None:
            raise CheckpointNotFoundError(
                f"Run folder {path!r} has no {MODEL_FILE} and no {CHECKPOINTS_DIR}/*.keras yet."
            )
        return checkpoint
    raise CheckpointNotFoundError(f"Checkpoint {path!r} does not exist.")
