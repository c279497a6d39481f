"""The parts shared by the U-Net and U-ViT denoisers.

A denoiser is a functional `keras.Model` with dict inputs
``{"images": (H, W, C), "noise_level": () logSNR, "class_labels": () int}``
(class labels only when `num_classes` is set; label `num_classes` is the
null class used for classifier-free guidance) and one output of the shape of
the images. It knows nothing of noise schedules beyond the logSNR it is
conditioned on, and nothing of training.
"""

import math

import keras
from keras import layers

from keras_simple_diffusion.layers import (
    DWT53,
    InverseDWT53,
    NoiseLevelEmbedding,
    Patchify,
    ResidualBlock,
    TransformerBlock,
    Unpatchify,
)

DOWNSAMPLERS = (None, "dwt", "patch")


def check_downsampling(image_size, downsample, factor, min_resolution=1):
    """Validates the early downsampling and returns the resolution after it."""
    if downsample not in DOWNSAMPLERS:
        raise ValueError(
            f"Unknown downsample {downsample!r}. Expected one of {DOWNSAMPLERS}."
        )
    if image_size is None or int(image_size) != image_size or image_size <= 0:
        raise ValueError(f"`image_size` must be a positive integer. Received: {image_size}")
    if downsample is None:
        factor = 1
    if int(factor) != factor or factor < 1:
        raise ValueError(f"`downsample_factor` must be a positive integer. Received: {factor}")
    if downsample == "dwt" and factor & (factor - 1):
        raise ValueError(
            "The wavelet halves the resolution per level, so `downsample_factor` "
            f"must be a power of two with downsample='dwt'. Received: {factor}"
        )
    if image_size % (factor * min_resolution):
        raise ValueError(
            f"image_size={image_size} is not divisible by the downsampling factor "
            f"{factor} times the {min_resolution}x reduction of the network levels "
            f"(= {factor * min_resolution})."
        )
    return image_size // factor


def denoiser_inputs(image_size, channels, num_classes):
    inputs = {
        "images": keras.Input((image_size, image_size, channels), name="images"),
        "noise_level": keras.Input((), name="noise_level"),
    }
    if num_classes:
        inputs["class_labels"] = keras.Input((), dtype="int32", name="class_labels")
    return inputs


def conditioning_embedding(inputs, embedding_dim, num_classes):
    """Noise-level embedding plus a class embedding (with a null class)."""
    embedding = NoiseLevelEmbedding(embedding_dim, name="noise_level_embedding")(inputs["noise_level"])
    if num_classes:
        label_embedding = layers.Embedding(num_classes + 1, embedding_dim, name="class_embedding")
        embedding = layers.Add(name="conditioning")([embedding, label_embedding(inputs["class_labels"])])
    return embedding


def early_downsample(images, downsample, factor):
    if downsample == "dwt" and factor > 1:
        return DWT53(int(math.log2(factor)), name="dwt")(images)
    if downsample == "patch" and factor > 1:
        return Patchify(factor, name="patchify")(images)
    return images


def late_upsample(features, downsample, factor):
    if downsample == "dwt" and factor > 1:
        return InverseDWT53(int(math.log2(factor)), name="inverse_dwt")(features)
    if downsample == "patch" and factor > 1:
        return Unpatchify(factor, name="unpatchify")(features)
    return features


def attend(features, embedding, num_heads, block_args, name):
    """Self-attention over the pixels of a feature map, via TransformerBlock."""
    _, height, width, channels = features.shape
    tokens = layers.Reshape((height * width, channels), name=f"{name}_tokens")(features)
    tokens = TransformerBlock(num_heads, resolution=height, name=name, **block_args)([tokens, embedding])
    return layers.Reshape((height, width, channels), name=f"{name}_map")(tokens)


def encoder(h, embedding, widths, num_res_blocks, block_args, attention=None):
    """Residual levels, each followed by a stride-2 downsampling.

    Returns the features after the last level's downsampling and the skip
    connections (the stem output, every block, every inner downsampling).
    `attention(h, embedding, name)` is applied after blocks where it returns
    a tensor (the U-Net's low resolutions).
    """
    skips = [h]
    for level, width in enumerate(widths):
        for block in range(num_res_blocks):
            name = f"down_{level}_{block}"
            h = ResidualBlock(width, name=name, **block_args)([h, embedding])
            if attention is not None:
                h = attention(h, embedding, f"{name}_attention")
            skips.append(h)
        h = layers.Conv2D(width, 3, strides=2, padding="same", name=f"downsample_{level}")(h)
        if level < len(widths) - 1:
            skips.append(h)
    return h, skips


def decoder(h, embedding, skips, widths, num_res_blocks, block_args, attention=None):
    """Mirror of `encoder`: upsample, then blocks that each take one skip."""
    for level in reversed(range(len(widths))):
        width = widths[level]
        h = layers.UpSampling2D(2, name=f"upsample_{level}")(h)
        h = layers.Conv2D(width, 3, padding="same", name=f"upsample_{level}_conv")(h)
        for block in range(num_res_blocks + 1):
            name = f"up_{level}_{block}"
            h = layers.Concatenate(name=f"{name}_skip")([h, skips.pop()])
            h = ResidualBlock(width, name=name, **block_args)([h, embedding])
            if attention is not None:
                h = attention(h, embedding, f"{name}_attention")
    return h


def output_head(h, out_channels, groups, name="output"):
    h = layers.GroupNormalization(groups=math.gcd(groups, h.shape[-1]), name=f"{name}_norm")(h)
    h = layers.Activation("silu", name=f"{name}_silu")(h)
    return layers.Conv2D(out_channels, 3, padding="same", kernel_initializer="zeros", name=f"{name}_conv")(h)


class Denoiser(keras.Model):
    """Base class of the denoisers: stores the shared configuration.

    Subclasses build their functional graph and call `super().__init__` with
    the inputs, outputs and the shared arguments.
    """

    def __init__(
        self,
        inputs,
        outputs,
        image_size,
        channels,
        num_classes,
        downsample,
        downsample_factor,
        embedding_dim,
        dropout,
        dropout_max_resolution,
        **kwargs,
    ):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.image_size = image_size
        self.channels = channels
        self.num_classes = num_classes
        self.downsample = downsample
        self.downsample_factor = downsample_factor
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.dropout_max_resolution = dropout_max_resolution

    @property
    def null_class(self):
        """The label that means "no class" (classifier-free guidance)."""
        return self.num_classes

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "channels": self.channels,
            "num_classes": self.num_classes,
            "downsample": self.downsample,
            "downsample_factor": self.downsample_factor,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout,
            "dropout_max_resolution": self.dropout_max_resolution,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
