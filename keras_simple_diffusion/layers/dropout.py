"""Selective dropout: dropout only at low resolutions (paper section 3.4)."""

import keras

from keras_simple_diffusion.checks import check_number, check_positive_int, check_seed


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class SelectiveDropout(keras.layers.Layer):
    """Dropout that is active only on feature maps at or below a resolution.

    The paper finds dropout helps the low-resolution (high-level) blocks and
    hurts the high-resolution ones, so it applies dropout only at, say,
    16 x 16 and below. The resolution is read from a rank-4
    (batch, H, W, C) input, or given as `resolution` for token sequences.

    Args:
        rate: dropout rate in [0, 1).
        max_resolution: the largest resolution (min(H, W)) that gets dropout.
        resolution: the resolution of the input when it is not a rank-4
            image-shaped tensor (e.g. transformer tokens of a 16 x 16 grid).
        seed: seed of the layer's own `SeedGenerator`, which exists only
            when `rate > 0` (as in Keras' `Dropout`).

    Example:
    >>> layer = SelectiveDropout(0.1, max_resolution=16)
    >>> y = layer(np.ones((2, 32, 32, 8)), training=True)  # unchanged: 32 > 16
    """

    def __init__(self, rate, max_resolution, resolution=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_number("rate", rate, 0.0, 1.0, inclusive=(True, False))
        self.max_resolution = check_positive_int("max_resolution", max_resolution)
        self.resolution = check_positive_int("resolution", resolution, allow_none=True)
        self.seed = check_seed("seed", seed)
        if self.rate > 0:
            self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        if self.resolution is None:
            if len(input_shape) != 4:
                raise ValueError(
                    "SelectiveDropout needs `resolution` for inputs that are not "
                    f"(batch, H, W, C). Received shape {tuple(input_shape)}."
                )
            self.resolution = min(input_shape[1], input_shape[2])

    @property
    def active(self):
        """Whether dropout applies to this layer's input resolution."""
        return self.rate > 0.0 and self.resolution <= self.max_resolution

    def call(self, inputs, training=False):
        if training and self.active:
            return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "max_resolution": self.max_resolution,
            "resolution": self.resolution,
            "seed": self.seed,
        }
