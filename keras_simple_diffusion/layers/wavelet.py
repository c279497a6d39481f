"""The LeGall 5/3 wavelet (JPEG 2000, PyWavelets 'bior2.2') as Keras layers.

One level maps (batch, H, W, C) to (batch, H/2, W/2, 4C), bands in the order
[LL, LH, HL, HH], each C channels wide; the first letter is the filter along
the height axis, the second along the width axis. Further levels transform
every band again (a wavelet packet), so `levels` levels give
(H / 2^levels, W / 2^levels, 4^levels C): the stacked bands are channels, as
in the paper.

In lifting form along one axis:

    d[n] = x[2n+1] - (x[2n] + x[2n+2]) / 2     (predict)
    s[n] = x[2n]   + (d[n-1] + d[n]) / 4        (update)

with whole-sample symmetric extension at the borders, as in JPEG 2000
(x[-1] = x[1], x[N] = x[N-2], hence d[-1] = d[0]). The inverse undoes the
update, then the predict, so it is exact up to float rounding.
"""

import keras
from keras import ops

from keras_simple_diffusion.checks import check_positive_int
from keras_simple_diffusion.layers.shapes import check_image_shape


def _lift(x):
    """One forward lifting pass along axis 2 of (batch, H, W, C)."""
    _, height, width, channels = x.shape
    pairs = ops.reshape(x, (-1, height, width // 2, 2, channels))
    even, odd = pairs[:, :, :, 0], pairs[:, :, :, 1]
    even_next = ops.concatenate([even[:, :, 1:], even[:, :, -1:]], axis=2)
    detail = odd - 0.5 * (even + even_next)
    detail_prev = ops.concatenate([detail[:, :, :1], detail[:, :, :-1]], axis=2)
    smooth = even + 0.25 * (detail_prev + detail)
    return smooth, detail


def _unlift(smooth, detail):
    """Inverse of `_lift`: (smooth, detail) along axis 2 back to one signal."""
    _, height, half_width, channels = smooth.shape
    detail_prev = ops.concatenate([detail[:, :, :1], detail[:, :, :-1]], axis=2)
    even = smooth - 0.25 * (detail_prev + detail)
    even_next = ops.concatenate([even[:, :, 1:], even[:, :, -1:]], axis=2)
    odd = detail + 0.5 * (even + even_next)
    return ops.reshape(ops.stack([even, odd], axis=3), (-1, height, 2 * half_width, channels))


def _swap_spatial(x):
    return ops.transpose(x, (0, 2, 1, 3))


def _lift_height(x):
    smooth, detail = _lift(_swap_spatial(x))
    return _swap_spatial(smooth), _swap_spatial(detail)


def _unlift_height(smooth, detail):
    return _swap_spatial(_unlift(_swap_spatial(smooth), _swap_spatial(detail)))


def dwt53_level(x):
    """One 2-D level: (batch, H, W, C) -> (batch, H/2, W/2, 4C) as [LL, LH, HL, HH]."""
    low_w, high_w = _lift(x)
    ll, hl = _lift_height(low_w)
    lh, hh = _lift_height(high_w)
    return ops.concatenate([ll, lh, hl, hh], axis=-1)


def inverse_dwt53_level(bands):
    """Inverse of `dwt53_level`."""
    ll, lh, hl, hh = ops.split(bands, 4, axis=-1)
    low_w = _unlift_height(ll, hl)
    high_w = _unlift_height(lh, hh)
    return _unlift(low_w, high_w)


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class DWT53(keras.layers.Layer):
    """Multi-level LeGall 5/3 wavelet transform, channels last.

    Args:
        levels: number of levels; the spatial size shrinks by 2^levels and the
            channels grow by 4^levels.

    Example:
    >>> x = np.random.rand(2, 64, 64, 3).astype("float32")
    >>> DWT53(levels=2)(x).shape
    (2, 16, 16, 48)
    """

    def __init__(self, levels=1, **kwargs):
        super().__init__(**kwargs)
        self.levels = check_positive_int("levels", levels)

    def build(self, input_shape):
        check_image_shape(self, input_shape, 2**self.levels)

    def call(self, inputs):
        x = inputs
        for _ in range(self.levels):
            x = dwt53_level(x)
        return x

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        factor = 2**self.levels
        return (batch, height // factor, width // factor, channels * factor**2)

    def get_config(self):
        return {**super().get_config(), "levels": self.levels}


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class InverseDWT53(keras.layers.Layer):
    """Inverse of `DWT53`: (H, W, 4^levels C) bands back to (2^levels H, 2^levels W, C).

    Args:
        levels: number of levels to undo.

    Example:
    >>> x = np.random.rand(2, 64, 64, 3).astype("float32")
    >>> np.allclose(InverseDWT53(2)(DWT53(2)(x)), x, atol=1e-5)
    True
    """

    def __init__(self, levels=1, **kwargs):
        super().__init__(**kwargs)
        self.levels = check_positive_int("levels", levels)

    def build(self, input_shape):
        check_image_shape(self, input_shape, 1, channel_multiple=4**self.levels)

    def call(self, inputs):
        x = inputs
        for _ in range(self.levels):
            x = inverse_dwt53_level(x)
        return x

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        factor = 2**self.levels
        return (batch, height * factor, width * factor, channels // factor**2)

    def get_config(self):
        return {**super().get_config(), "levels": self.levels}
