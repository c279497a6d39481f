"""Conditioning on the noise level through an embedding of logSNR."""

import math

import keras
from keras import ops

from keras_simple_diffusion.checks import check_number, check_positive_int


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class NoiseLevelEmbedding(keras.layers.Layer):
    """Sinusoidal embedding of logSNR followed by a two-layer MLP.

    logSNR is first mapped to the time of the unshifted cosine schedule,
    ``u = atan(exp(-logsnr / 2)) * 2 / pi`` in (0, 1), so that any schedule
    (shifted, interpolated) gives well-spread features, then embedded as
    ``[sin(1000 u f), cos(1000 u f)]`` for geometric frequencies f.

    Args:
        embedding_dim: output width.
        frequency_dim: width of the sinusoidal features (even).
        max_period: the slowest period of the sinusoids.

    Example:
    >>> NoiseLevelEmbedding(128)(np.zeros((4,), "float32")).shape
    (4, 128)
    """

    def __init__(self, embedding_dim, frequency_dim=128, max_period=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.frequency_dim = check_positive_int("frequency_dim", frequency_dim)
        if frequency_dim % 2:
            raise ValueError(
                f"`frequency_dim` must be even. Received: frequency_dim={frequency_dim}"
            )
        self.max_period = check_number("max_period", max_period, 0.0, inclusive=(False, True))
        self.hidden = keras.layers.Dense(
            embedding_dim, activation="silu", dtype=self.dtype_policy, name="hidden"
        )
        self.output_dense = keras.layers.Dense(
            embedding_dim, dtype=self.dtype_policy, name="output"
        )

    @property
    def input_dtype(self):
        # Keras casts float inputs to this dtype. logSNR (about [-20, 20])
        # stays float32 for the sinusoids, as half precision would round it to
        # a few significant digits; the MLP computes in the compute dtype.
        return "float32"

    def build(self, input_shape):
        self.hidden.build(tuple(input_shape) + (self.frequency_dim,))
        self.output_dense.build(tuple(input_shape) + (self.embedding_dim,))

    def call(self, logsnr):
        logsnr = ops.cast(logsnr, "float32")
        u = ops.arctan(ops.exp(-0.5 * logsnr)) * (2.0 / math.pi)
        half = self.frequency_dim // 2
        frequencies = ops.exp(-math.log(self.max_period) * ops.arange(half, dtype="float32") / half)
        angles = 1000.0 * u[..., None] * frequencies
        features = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
        return self.output_dense(self.hidden(features))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "embedding_dim": self.embedding_dim,
            "frequency_dim": self.frequency_dim,
            "max_period": self.max_period,
        }


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned position embedding to a (batch, length, dim) sequence.

    Args:
        initializer: initializer of the (length, dim) table.

    Example:
    >>> PositionEmbedding()(np.zeros((2, 256, 64), "float32")).shape
    (2, 256, 64)
    """

    def __init__(self, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings", shape=tuple(input_shape[1:]), initializer=self.initializer
        )

    def call(self, inputs):
        return inputs + ops.cast(self.embeddings, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "initializer": keras.initializers.serialize(self.initializer),
        }
