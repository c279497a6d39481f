"""Training runs: `TrainConfig`, `train`, run folders, callbacks and image output.

`TrainConfig` is free of Keras; every other name is imported on first use
(PEP 562), so that the command line reads its options without a backend.
"""

import importlib

from keras_simple_diffusion.training.config import TrainConfig as TrainConfig

_HOMES = {
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

__all__ = sorted(["TrainConfig", *_HOMES])


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__():
    return __all__
