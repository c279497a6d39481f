"""Backend-agnostic Keras layers of simple diffusion (keras.ops only)."""

from keras_simple_diffusion.layers.blocks import ResidualBlock, TransformerBlock
from keras_simple_diffusion.layers.dropout import SelectiveDropout
from keras_simple_diffusion.layers.embedding import NoiseLevelEmbedding, PositionEmbedding
from keras_simple_diffusion.layers.patching import Patchify, Unpatchify
from keras_simple_diffusion.layers.wavelet import DWT53, InverseDWT53

__all__ = [
    "DWT53",
    "InverseDWT53",
    "NoiseLevelEmbedding",
    "Patchify",
    "PositionEmbedding",
    "ResidualBlock",
    "SelectiveDropout",
    "TransformerBlock",
    "Unpatchify",
]
