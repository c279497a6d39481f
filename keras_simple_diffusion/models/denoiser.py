"""The parts shared by the U-Net and U-ViT denoisers.

A denoiser is a functional `keras.Model` with dict inputs
``{"images": (H, W, C), "noise_level": () logSNR, "class_labels": () int}``
(class labels only when `num_classes` is set; label `num_classes` is the
null class used for classifier-free guidance) and one output of the shape of
the images. It knows nothing of noise schedules beyond the logSNR it is
conditioned on, and nothing of training.

A text-conditioned denoiser (`text_encoder` set) also takes
``"token_ids": (L,) int`` and ``"padding_mask": (L,) int``. Its
`TextEncoder` (a keras-hub backbone, part of the graph and of the saved
model) gives token embeddings, which the attention blocks at the low
resolutions (the 16 x 16 blocks of the paper-sized models) attend to through
cross-attention, and a pooled embedding, which joins the noise-level
embedding. The empty prompt (all padding) is the guidance null condition.
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
from keras_simple_diffusion.text import TextEncoder

DOWNSAMPLERS = (None, "dwt", "patch")


def check_downsampling(image_size, downsample, factor, min_resolution=1):
    """Validates the early downsampling and returns the resolution after it."""
    if downsample not in DOWNSAMPLERS:
        raise ValueError(f"Unknown downsample {downsample!r}. Expected one of {DOWNSAMPLERS}.")
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


def resolve_text_encoder(text_encoder):
    """None, a `TextEncoder`, its serialised config, a dict of
    `build_text_encoder` keyword arguments, "default" / True (the small
    byte-level T5 of `build_text_encoder()`) or a local keras-hub preset
    directory -> a `TextEncoder` or None."""
    if text_encoder is None or text_encoder is False:
        return None
    if isinstance(text_encoder, TextEncoder):
        return text_encoder
    from keras_simple_diffusion.text import build_text_encoder  # noqa: PLC0415

    if isinstance(text_encoder, dict) and "class_name" in text_encoder:
        return keras.saving.deserialize_keras_object(text_encoder)
    if isinstance(text_encoder, dict):
        # Keyword arguments of `build_text_encoder` (e.g. a smaller default).
        return build_text_encoder(**text_encoder)

    if text_encoder is True or text_encoder == "default":
        return build_text_encoder()
    if isinstance(text_encoder, str):
        return build_text_encoder(preset=text_encoder)
    raise ValueError(
        "`text_encoder` must be None, a TextEncoder, 'default' or a local keras-hub "
        f"preset directory. Received: {text_encoder!r}"
    )


def denoiser_inputs(image_size, channels, num_classes, text_encoder=None, guidance_input=False):
    inputs = {
        "images": keras.Input((image_size, image_size, channels), name="images"),
        "noise_level": keras.Input((), name="noise_level"),
    }
    if guidance_input:
        inputs["guidance"] = keras.Input((), name="guidance")
    if num_classes:
        inputs["class_labels"] = keras.Input((), dtype="int32", name="class_labels")
    if text_encoder is not None:
        length = text_encoder.sequence_length
        inputs["token_ids"] = keras.Input((length,), dtype="int32", name="token_ids")
        inputs["padding_mask"] = keras.Input((length,), dtype="int32", name="padding_mask")
    return inputs


def text_context(inputs, text_encoder):
    """Runs the text encoder: returns `(context, pooled, context_mask)` or Nones."""
    if text_encoder is None:
        return None, None, None
    return text_encoder([inputs["token_ids"], inputs["padding_mask"]])


def conditioning_embedding(inputs, embedding_dim, num_classes, pooled_text=None, dtype=None):
    """Noise-level embedding plus a class embedding (with a null class) and,
    for text conditioning, a projection of the pooled text embedding; with a
    "guidance" input, an embedding of the guidance weight too."""
    embedding = NoiseLevelEmbedding(embedding_dim, dtype=dtype, name="noise_level_embedding")(
        inputs["noise_level"]
    )
    if "guidance" in inputs:
        # Embedded like the noise level; the projection starts at zero, so a
        # student given this input starts as its teacher (guided distillation).
        guidance = NoiseLevelEmbedding(embedding_dim, dtype=dtype, name="guidance_embedding")(
            inputs["guidance"]
        )
        guidance = layers.Dense(
            embedding_dim, kernel_initializer="zeros", dtype=dtype, name="guidance_projection"
        )(guidance)
        embedding = layers.Add(dtype=dtype, name="guidance_conditioning")([embedding, guidance])
    if num_classes:
        # Unit-scale rows, like the noise-level embedding they join: Keras'
        # default U(-0.05, 0.05) leaves the classes indistinguishable to the
        # modulations for hundreds of steps.
        label_embedding = layers.Embedding(
            num_classes + 1,
            embedding_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
            dtype=dtype,
            name="class_embedding",
        )
        embedding = layers.Add(dtype=dtype, name="conditioning")(
            [embedding, label_embedding(inputs["class_labels"])]
        )
    if pooled_text is not None:
        text = layers.Dense(
            embedding_dim, activation="silu", dtype=dtype, name="text_pooled_projection"
        )(pooled_text)
        text = layers.Dense(embedding_dim, dtype=dtype, name="text_pooled_embedding")(text)
        embedding = layers.Add(dtype=dtype, name="text_conditioning")([embedding, text])
    return embedding


def early_downsample(images, downsample, factor, dtype=None):
    if downsample == "dwt" and factor > 1:
        return DWT53(int(math.log2(factor)), dtype=dtype, name="dwt")(images)
    if downsample == "patch" and factor > 1:
        return Patchify(factor, dtype=dtype, name="patchify")(images)
    return images


def late_upsample(features, downsample, factor, dtype=None):
    if downsample == "dwt" and factor > 1:
        return InverseDWT53(int(math.log2(factor)), dtype=dtype, name="inverse_dwt")(features)
    if downsample == "patch" and factor > 1:
        return Unpatchify(factor, dtype=dtype, name="unpatchify")(features)
    return features


def attend(features, embedding, num_heads, block_args, name, context=None, dtype=None):
    """Self-attention over the pixels of a feature map, via TransformerBlock;
    with `context=(tokens, mask)`, also cross-attention to the text tokens."""
    _, height, width, channels = features.shape
    tokens = layers.Reshape((height * width, channels), dtype=dtype, name=f"{name}_tokens")(
        features
    )
    block = TransformerBlock(
        num_heads,
        resolution=height,
        cross_attention=context is not None,
        dtype=dtype,
        name=name,
        **block_args,
    )
    block_inputs = [tokens, embedding] if context is None else [tokens, embedding, *context]
    tokens = block(block_inputs)
    return layers.Reshape((height, width, channels), dtype=dtype, name=f"{name}_map")(tokens)


def encoder(h, embedding, widths, num_res_blocks, block_args, attention=None, dtype=None):
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
            h = ResidualBlock(width, dtype=dtype, name=name, **block_args)([h, embedding])
            if attention is not None:
                h = attention(h, embedding, f"{name}_attention")
            skips.append(h)
        h = layers.Conv2D(
            width, 3, strides=2, padding="same", dtype=dtype, name=f"downsample_{level}"
        )(h)
        if level < len(widths) - 1:
            skips.append(h)
    return h, skips


def decoder(h, embedding, skips, widths, num_res_blocks, block_args, attention=None, dtype=None):
    """Mirror of `encoder`: upsample, then blocks that each take one skip."""
    for level in reversed(range(len(widths))):
        width = widths[level]
        h = layers.UpSampling2D(2, dtype=dtype, name=f"upsample_{level}")(h)
        h = layers.Conv2D(width, 3, padding="same", dtype=dtype, name=f"upsample_{level}_conv")(h)
        for block in range(num_res_blocks + 1):
            name = f"up_{level}_{block}"
            h = layers.Concatenate(dtype=dtype, name=f"{name}_skip")([h, skips.pop()])
            h = ResidualBlock(width, dtype=dtype, name=name, **block_args)([h, embedding])
            if attention is not None:
                h = attention(h, embedding, f"{name}_attention")
    return h


def output_head(h, out_channels, groups, name="output", dtype=None):
    h = layers.GroupNormalization(
        groups=math.gcd(groups, h.shape[-1]), dtype=dtype, name=f"{name}_norm"
    )(h)
    h = layers.Activation("silu", dtype=dtype, name=f"{name}_silu")(h)
    return layers.Conv2D(
        out_channels,
        3,
        padding="same",
        kernel_initializer="zeros",
        dtype=dtype,
        name=f"{name}_conv",
    )(h)


class Denoiser(keras.Model):
    """Base class of the denoisers: stores the shared configuration.

    Subclasses build their functional graph, passing `dtype` to every layer
    they create, and call `super().__init__` with the inputs, outputs and
    the shared arguments. `dtype` (a Keras dtype policy or its name, e.g.
    "mixed_bfloat16") becomes the model's `dtype_policy`, as in keras-hub's
    backbones; None takes the global policy. The inputs stay float32.
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
        text_encoder=None,
        dtype=None,
        guidance_input=False,
        **kwargs,
    ):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # A functional model ignores a `dtype` keyword: set the policy here.
        if dtype is not None:
            self.dtype_policy = dtype
        self._explicit_dtype = dtype is not None
        self.text_encoder = text_encoder
        self.image_size = image_size
        self.channels = channels
        self.num_classes = num_classes
        self.downsample = downsample
        self.downsample_factor = downsample_factor
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.dropout_max_resolution = dropout_max_resolution
        self.guidance_input = bool(guidance_input)

    @property
    def null_class(self):
        """The label that means "no class" (classifier-free guidance)."""
        return self.num_classes

    @property
    def text_conditioned(self):
        return self.text_encoder is not None

    def get_config(self):
        config = {
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
            # Only a policy given to the constructor: a model built under the
            # global policy takes the global policy again when loaded.
            "dtype": (
                keras.dtype_policies.serialize(self.dtype_policy) if self._explicit_dtype else None
            ),
        }
        if self.text_encoder is not None:
            config["text_encoder"] = keras.saving.serialize_keras_object(self.text_encoder)
        if self.guidance_input:
            config["guidance_input"] = True
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
