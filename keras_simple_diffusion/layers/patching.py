"""Patching: p x p space-to-depth and its inverse, the simpler alternative to
the wavelet for downsampling immediately at the input."""

import keras
from keras import ops

from keras_simple_diffusion.checks import check_positive_int
from keras_simple_diffusion.layers.shapes import check_image_shape


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class Patchify(keras.layers.Layer):
    """Space-to-depth: (H, W, C) -> (H/p, W/p, p*p*C), each patch row-major.

    Args:
        patch_size: side p of the square patches.

    Example:
    >>> Patchify(4)(np.zeros((1, 32, 32, 3), "float32")).shape
    (1, 8, 8, 48)
    """

    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = check_positive_int("patch_size", patch_size)

    def build(self, input_shape):
        check_image_shape(self, input_shape, self.patch_size)

    def call(self, inputs):
        p = self.patch_size
        _, height, width, channels = inputs.shape
        x = ops.reshape(inputs, (-1, height // p, p, width // p, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, height // p, width // p, p * p * channels))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        p = self.patch_size
        return (batch, height // p, width // p, p * p * channels)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class Unpatchify(keras.layers.Layer):
    """Inverse of `Patchify`: (H, W, p*p*C) -> (H p, W p, C).

    Args:
        patch_size: side p of the square patches.

    Example:
    >>> Unpatchify(4)(np.zeros((1, 8, 8, 48), "float32")).shape
    (1, 32, 32, 3)
    """

    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = check_positive_int("patch_size", patch_size)

    def build(self, input_shape):
        check_image_shape(self, input_shape, 1, channel_multiple=self.patch_size**2)

    def call(self, inputs):
        p = self.patch_size
        _, height, width, depth = inputs.shape
        channels = depth // (p * p)
        x = ops.reshape(inputs, (-1, height, width, p, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, height * p, width * p, channels))

    def compute_output_shape(self, input_shape):
        batch, height, width, depth = input_shape
        p = self.patch_size
        return (batch, height * p, width * p, depth // (p * p))

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}
