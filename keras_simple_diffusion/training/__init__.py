"""Training runs: `TrainConfig`, `train`, run folders, callbacks and image output."""

from keras_simple_diffusion.training.callbacks import (
    EMACheckpoint,
    NaNSafeBackupAndRestore,
    SampleGrid,
    ema_weights,
)
from keras_simple_diffusion.training.images import image_grid, save_image_grid, save_samples
from keras_simple_diffusion.training.runs import (
    CheckpointNotFoundError,
    resolve_checkpoint,
    resolve_run_dir,
)
from keras_simple_diffusion.training.trainer import TrainConfig, TrainingDiverged, train

__all__ = [
    "CheckpointNotFoundError",
    "EMACheckpoint",
    "NaNSafeBackupAndRestore",
    "SampleGrid",
    "TrainConfig",
    "TrainingDiverged",
    "ema_weights",
    "image_grid",
    "resolve_checkpoint",
    "resolve_run_dir",
    "save_image_grid",
    "save_samples",
    "train",
]
