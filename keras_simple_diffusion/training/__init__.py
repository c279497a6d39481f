"""Training runs: `TrainConfig`, `train`, run folders, callbacks and image output."""

from keras_simple_diffusion.training.callbacks import EMACheckpoint
from keras_simple_diffusion.training.callbacks import NaNSafeBackupAndRestore
from keras_simple_diffusion.training.callbacks import SampleGrid
from keras_simple_diffusion.training.callbacks import ema_weights
from keras_simple_diffusion.training.images import image_grid
from keras_simple_diffusion.training.images import save_image_grid
from keras_simple_diffusion.training.images import save_samples
from keras_simple_diffusion.training.runs import CheckpointNotFoundError
from keras_simple_diffusion.training.runs import resolve_checkpoint
from keras_simple_diffusion.training.runs import resolve_run_dir
from keras_simple_diffusion.training.trainer import TrainConfig
from keras_simple_diffusion.training.trainer import TrainingDiverged
from keras_simple_diffusion.training.trainer import train

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
