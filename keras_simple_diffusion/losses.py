"""Loss weightings and the multiscale loss, written on the epsilon error.

Every weighting is a factor on one error: for a
network of any parametrisation we form ``e = eps - eps_hat`` and weight
``||e||^2`` by a function of logSNR:

- ``"eps"`` (default, the paper's loss): 1.
- ``"v"`` (plain v-MSE): ``||v - v_hat||^2 = (1 + 1/SNR) ||e||^2``.
- ``"sigmoid"`` (SiD2): ``sigmoid(b - logsnr)``, b = 0 at 128^2, -1 at 256^2,
  -3 at 512^2.

The multiscale loss (section 3.2) averages the error down to s x s for
s in {d, d/2, ..., min_size}, takes the mean square at each scale and sums
them with weights 1/s normalised to one, so that with a single scale it is
exactly the ordinary loss. Average pooling is linear, so pooling the error
equals the error of the pooled tensors.
"""

import math

from keras import ops

from keras_simple_diffusion.choices import LOSS_WEIGHTINGS as WEIGHTINGS

# SiD2's bias of the sigmoid weighting, by log2 of the resolution.
_SIGMOID_BIAS_POINTS = ((7.0, 0.0), (8.0, -1.0), (9.0, -3.0))


def check_weighting(weighting):
    if weighting not in WEIGHTINGS:
        raise ValueError(f"Unknown loss weighting {weighting!r}. Expected one of {WEIGHTINGS}.")
    return weighting


def default_sigmoid_bias(image_size):
    """SiD2's bias: 0 at 128 px, -1 at 256, -3 at 512.

    Interpolated linearly in log2(resolution) between those points and held
    constant outside them.
    """
    x = math.log2(image_size)
    points = _SIGMOID_BIAS_POINTS
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def loss_weight(logsnr, weighting="eps", sigmoid_bias=0.0):
    """The factor on ``||eps - eps_hat||^2`` for each logSNR (shape of logsnr)."""
    check_weighting(weighting)
    logsnr = ops.cast(logsnr, "float32")
    if weighting == "eps":
        return ops.ones_like(logsnr)
    if weighting == "v":
        return 1.0 + ops.exp(-logsnr)
    return ops.sigmoid(sigmoid_bias - logsnr)


def multiscale_sizes(image_size, min_size=32):
    """Resolutions of the multiscale loss: image_size, image_size/2, ... >= min_size.

    For the paper's power-of-two sizes this is {32, 64, ..., d}; an image no
    larger than `min_size` gives the single scale [image_size].
    """
    sizes = [image_size]
    while sizes[-1] % 2 == 0 and sizes[-1] // 2 >= min_size:
        sizes.append(sizes[-1] // 2)
    return sizes


def multiscale_mean_square(error, sizes):
    """Per-example multiscale mean square of `error` (batch, H, W, C) -> (batch,).

    Weights are 1/s normalised to sum to one over `sizes`; `sizes[0]` must be
    the error's own resolution.
    """
    error = ops.cast(error, "float32")
    _, height, width, channels = error.shape
    if sizes[0] != height or height != width:
        raise ValueError(
            "The multiscale loss expects square errors of the first size. Received "
            f"shape {error.shape} with sizes {sizes}."
        )
    inverse = [1.0 / s for s in sizes]
    total = sum(inverse)
    loss = 0.0
    for size, weight in zip(sizes, inverse):
        factor = height // size
        pooled = ops.mean(
            ops.reshape(error, (-1, size, factor, size, factor, channels)), axis=(2, 4)
        )
        loss = loss + (weight / total) * ops.mean(ops.square(pooled), axis=(1, 2, 3))
    return loss


def diffusion_loss(epsilon_error, logsnr, weighting="eps", sigmoid_bias=0.0, sizes=None):
    """Weighted (multiscale) loss per example, shape (batch,).

    Args:
        epsilon_error: ``eps - eps_hat``, shape (batch, H, W, C).
        logsnr: shape (batch,).
        weighting: one of `WEIGHTINGS`.
        sigmoid_bias: b of the "sigmoid" weighting.
        sizes: resolutions of the multiscale loss; None for the plain loss.
    """
    if sizes is None:
        sizes = [epsilon_error.shape[1]]
    mean_square = multiscale_mean_square(epsilon_error, sizes)
    return loss_weight(logsnr, weighting, sigmoid_bias) * mean_square
