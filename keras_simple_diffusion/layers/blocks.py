"""The convolutional residual block and the U-ViT transformer block."""

import math

import keras
from keras import ops

from keras_simple_diffusion.checks import check_positive_int
from keras_simple_diffusion.layers.dropout import SelectiveDropout


def _group_norm(channels, groups, **kwargs):
    # Groups must divide the channels; take the largest divisor up to `groups`.
    return keras.layers.GroupNormalization(
        groups=math.gcd(groups, channels), epsilon=1e-5, **kwargs
    )


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class ResidualBlock(keras.layers.Layer):
    """Convolutional residual block conditioned on an embedding.

    GroupNorm -> SiLU -> conv3x3 -> GroupNorm modulated by the embedding
    (scale and shift) -> SiLU -> selective dropout -> conv3x3 (zero
    initialised, so the block starts as the identity), plus a 1x1 skip
    projection when the width changes.

    Args:
        filters: output channels.
        dropout: dropout rate of the selective dropout.
        dropout_max_resolution: largest resolution that gets dropout.
        groups: group count of the group norms (reduced to divide the width).
        seed: seed of the dropout's `SeedGenerator`.

    Example:
    >>> block = ResidualBlock(64)
    >>> y = block([np.zeros((2, 16, 16, 32)), np.zeros((2, 128))])  # (2, 16, 16, 64)
    """

    def __init__(
        self, filters, dropout=0.0, dropout_max_resolution=16, groups=32, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.dropout = dropout
        self.dropout_max_resolution = dropout_max_resolution
        self.groups = check_positive_int("groups", groups)
        self.seed = seed

    def build(self, input_shape):
        image_shape, embedding_shape = input_shape
        in_channels = image_shape[-1]
        # Every sublayer computes in this block's dtype policy; the group
        # norms upcast half-precision inputs to float32 internally.
        dtype = self.dtype_policy
        self.norm_in = _group_norm(in_channels, self.groups, dtype=dtype, name="norm_in")
        self.conv_in = keras.layers.Conv2D(
            self.filters, 3, padding="same", dtype=dtype, name="conv_in"
        )
        self.modulation = keras.layers.Dense(2 * self.filters, dtype=dtype, name="modulation")
        self.norm_out = _group_norm(
            self.filters, self.groups, center=False, scale=False, dtype=dtype, name="norm_out"
        )
        # The dropout validates `dropout`, `dropout_max_resolution` and `seed`.
        self.dropout_layer = SelectiveDropout(
            self.dropout, self.dropout_max_resolution, seed=self.seed, dtype=dtype, name="dropout"
        )
        self.conv_out = keras.layers.Conv2D(
            self.filters,
            3,
            padding="same",
            kernel_initializer="zeros",
            dtype=dtype,
            name="conv_out",
        )
        self.skip = None
        if in_channels != self.filters:
            self.skip = keras.layers.Conv2D(self.filters, 1, dtype=dtype, name="skip")
            self.skip.build(image_shape)
        # Build the sublayers here so every variable exists before training
        # (JAX needs the full state up front).
        output_shape = tuple(image_shape[:-1]) + (self.filters,)
        self.norm_in.build(image_shape)
        self.conv_in.build(image_shape)
        self.modulation.build(embedding_shape)
        for layer in (self.norm_out, self.dropout_layer, self.conv_out):
            layer.build(output_shape)

    def call(self, inputs, training=False):
        x, embedding = inputs
        h = self.conv_in(ops.silu(self.norm_in(x)))
        scale, shift = ops.split(self.modulation(ops.silu(embedding))[:, None, None, :], 2, axis=-1)
        h = self.norm_out(h) * (1.0 + scale) + shift
        h = self.conv_out(self.dropout_layer(ops.silu(h), training=training))
        return h + (x if self.skip is None else self.skip(x))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "dropout": self.dropout,
            "dropout_max_resolution": self.dropout_max_resolution,
            "groups": self.groups,
            "seed": self.seed,
        }


def _modulate(norm, x, modulation):
    """adaLN: `norm(x) * (1 + scale) + shift`, and the sub-block's output gate."""
    shift, scale, gate = ops.split(modulation, 3, axis=-1)
    return norm(x) * (1.0 + scale) + shift, gate


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class TransformerBlock(keras.layers.Layer):
    """U-ViT transformer block: self-attention and MLP conditioned on the
    noise level, with optional cross-attention to a text context.

    Conditioning uses adaptive layer norm with zero-initialised gates
    (adaLN-Zero): the embedding gives a shift, scale and gate per sub-block,
    so each block starts as the identity. Inputs are
    `[tokens, embedding]` or `[tokens, embedding, context, context_mask]`
    with `cross_attention=True`.

    Args:
        num_heads: attention heads; the token width must divide by it.
        mlp_ratio: hidden width of the MLP over the token width.
        dropout: dropout rate of the selective dropout in the MLP.
        dropout_max_resolution: largest resolution that gets dropout.
        resolution: side of the token grid (tokens = resolution^2), which
            decides whether the selective dropout is active.
        cross_attention: whether to attend to a context sequence.
        seed: seed of the dropout's `SeedGenerator`.

    Example:
    >>> block = TransformerBlock(num_heads=4, resolution=16)
    >>> y = block([np.zeros((2, 256, 128)), np.zeros((2, 128))])  # (2, 256, 128)
    """

    def __init__(
        self,
        num_heads,
        mlp_ratio=4,
        dropout=0.0,
        dropout_max_resolution=16,
        resolution=None,
        cross_attention=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.mlp_ratio = check_positive_int("mlp_ratio", mlp_ratio)
        self.dropout = dropout
        self.dropout_max_resolution = dropout_max_resolution
        self.resolution = check_positive_int("resolution", resolution, allow_none=True)
        self.cross_attention = bool(cross_attention)
        self.seed = seed

    def build(self, input_shape):
        tokens_shape = tuple(input_shape[0])
        dim = tokens_shape[-1]
        if dim % self.num_heads:
            raise ValueError(
                f"TransformerBlock: token width {dim} is not divisible by "
                f"num_heads={self.num_heads}."
            )
        resolution = self.resolution or int(round(math.sqrt(tokens_shape[1])))
        sub_blocks = 3 if self.cross_attention else 2
        # Every sublayer computes in this block's dtype policy: the layer
        # norms upcast half-precision inputs to float32 internally, and the
        # attention softmax runs in float32 (see precision.py).
        dtype = self.dtype_policy
        self.modulation = keras.layers.Dense(
            3 * sub_blocks * dim, kernel_initializer="zeros", dtype=dtype, name="modulation"
        )
        norm = dict(epsilon=1e-6, center=False, scale=False, dtype=dtype)
        self.norm_attention = keras.layers.LayerNormalization(name="norm_attention", **norm)
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, dim // self.num_heads, dtype=dtype, name="attention"
        )
        if self.cross_attention:
            self.norm_cross = keras.layers.LayerNormalization(name="norm_cross", **norm)
            self.cross = keras.layers.MultiHeadAttention(
                self.num_heads, dim // self.num_heads, dtype=dtype, name="cross_attention"
            )
        self.norm_mlp = keras.layers.LayerNormalization(name="norm_mlp", **norm)
        self.mlp_hidden = keras.layers.Dense(
            self.mlp_ratio * dim, activation="gelu", dtype=dtype, name="mlp_hidden"
        )
        # The dropout validates `dropout`, `dropout_max_resolution` and `seed`.
        self.dropout_layer = SelectiveDropout(
            self.dropout,
            self.dropout_max_resolution,
            resolution=resolution,
            seed=self.seed,
            dtype=dtype,
            name="dropout",
        )
        self.mlp_output = keras.layers.Dense(dim, dtype=dtype, name="mlp_output")
        hidden_shape = tokens_shape[:-1] + (self.mlp_ratio * dim,)
        self.modulation.build(input_shape[1])
        for layer in (self.norm_attention, self.norm_mlp, self.mlp_hidden):
            layer.build(tokens_shape)
        self.attention.build(tokens_shape, tokens_shape)
        if self.cross_attention:
            self.norm_cross.build(tokens_shape)
            self.cross.build(tokens_shape, tuple(input_shape[2]))
        self.dropout_layer.build(hidden_shape)
        self.mlp_output.build(hidden_shape)

    def call(self, inputs, training=False):
        x, embedding = inputs[0], inputs[1]
        # One (shift, scale, gate) triple per sub-block, in the order
        # attention, cross-attention (when present), MLP.
        modulation = self.modulation(ops.silu(embedding))[:, None, :]
        if self.cross_attention:
            attention_modulation, cross_modulation, mlp_modulation = ops.split(
                modulation, 3, axis=-1
            )
        else:
            attention_modulation, mlp_modulation = ops.split(modulation, 2, axis=-1)

        h, gate = _modulate(self.norm_attention, x, attention_modulation)
        x = x + gate * self.attention(h, h, training=training)
        if self.cross_attention:
            context, context_mask = inputs[2], inputs[3]
            mask = ops.repeat(
                ops.expand_dims(ops.cast(context_mask, "bool"), 1), ops.shape(x)[1], axis=1
            )
            h, gate = _modulate(self.norm_cross, x, cross_modulation)
            x = x + gate * self.cross(h, context, attention_mask=mask, training=training)
        h, gate = _modulate(self.norm_mlp, x, mlp_modulation)
        h = self.mlp_output(self.dropout_layer(self.mlp_hidden(h), training=training))
        return x + gate * h

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "dropout": self.dropout,
            "dropout_max_resolution": self.dropout_max_resolution,
            "resolution": self.resolution,
            "cross_attention": self.cross_attention,
            "seed": self.seed,
        }
