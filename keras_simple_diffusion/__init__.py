"""keras-simple-diffusion: simple diffusion (Hoogeboom, Heek, Salimans 2023)
for Keras 3 on JAX, TensorFlow and PyTorch.

The package loads lazily (PEP 562), so that the `simple-diffusion` command
answers `--help` and bad flags without importing a backend: the first use
of any name below loads them all, which also registers the classes for
`keras.saving.load_model`. Imported after Keras (`import keras` first), the
package loads at once, as a plain package would.
"""

import importlib
import sys

__version__ = "0.1.0"

_SUBMODULES = ("layers", "losses", "models", "parametrization", "samplers", "schedules")
_NAMES = {
    "LogSNRSchedule": "schedules",
    "ProgressiveDistillation": "distillation",
    "SimpleDiffusion": "diffusion",
    "UNet": "models",
    "UViT": "models",
    "alpha_sigma": "schedules",
    "build_denoiser": "models",
    "distill": "distillation",
    "logsnr_cosine": "schedules",
    "logsnr_interpolated": "schedules",
    "logsnr_shifted": "schedules",
}

__all__ = sorted([*_SUBMODULES, *_NAMES])


def _load():
    namespace = globals()
    for name in _SUBMODULES:
        namespace[name] = importlib.import_module(f"{__name__}.{name}")
    for name, module in _NAMES.items():
        namespace[name] = getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __getattr__(name):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _load()
    return globals()[name]


def __dir__():
    return sorted({*globals(), *__all__})


if "keras" in sys.modules:
    _load()
