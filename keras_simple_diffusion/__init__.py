"""keras-simple-diffusion: simple diffusion (Hoogeboom, Heek, Salimans 2023)
for Keras 3 on JAX, TensorFlow and PyTorch."""

from keras_simple_diffusion import layers, losses, models, parametrization, samplers, schedules
from keras_simple_diffusion.diffusion import SimpleDiffusion
from keras_simple_diffusion.models import UNet, UViT, build_denoiser
from keras_simple_diffusion.schedules import (
    LogSNRSchedule,
    alpha_sigma,
    logsnr_cosine,
    logsnr_interpolated,
    logsnr_shifted,
)

__version__ = "0.1.0"

__all__ = [
    "LogSNRSchedule",
    "SimpleDiffusion",
    "UNet",
    "UViT",
    "alpha_sigma",
    "build_denoiser",
    "layers",
    "logsnr_cosine",
    "logsnr_interpolated",
    "logsnr_shifted",
    "losses",
    "models",
    "parametrization",
    "samplers",
    "schedules",
]
