"""Training runs: `TrainConfig`, `train`, run folders, callbacks and image output.

`TrainConfig` is free of Keras; every other name is imported on first use
(PEP 562), so that the command line reads its options without a backend.
"""

from keras_simple_diffusion.lazy import lazy_names
from keras_simple_diffusion.training.config import TrainConfig as TrainConfig

_NAMES = {
    "CheckpointNotFoundError": "runs",
    "EMACheckpoint": "callbacks",
    "NaNSafeBackupAndRestore": "callbacks",
    "SampleGrid": "callbacks",
    "TrainingDiverged": "trainer",
    "ema_weights": "callbacks",
    "image_grid": "images",
    "load_checkpoint": "runs",
    "resolve_run_dir": "runs",
    "save_image_grid": "images",
    "save_samples": "images",
    "train": "trainer",
}

__all__ = sorted(["TrainConfig", *_NAMES])
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
