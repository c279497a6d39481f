"""U-Net and U-ViT denoisers and their presets."""

from keras_simple_diffusion.models.denoiser import Denoiser
from keras_simple_diffusion.models.presets import (
    PRESETS,
    build_denoiser,
    preset_config,
    preset_for_image_size,
)
from keras_simple_diffusion.models.unet import UNet
from keras_simple_diffusion.models.uvit import UViT

__all__ = [
    "PRESETS",
    "Denoiser",
    "UNet",
    "UViT",
    "build_denoiser",
    "preset_config",
    "preset_for_image_size",
]
