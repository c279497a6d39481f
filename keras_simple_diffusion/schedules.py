"""Noise schedules: functions from diffusion time t in [0, 1] to logSNR.

Everything downstream (loss weights, samplers) is written in terms of
``logsnr = log(alpha_t^2 / sigma_t^2)``, so a schedule is just a function
``t -> logsnr``. The variance-preserving process gives
``alpha_t^2 = sigmoid(logsnr)`` and ``sigma_t^2 = sigmoid(-logsnr)``.

All functions accept Python floats, NumPy arrays or backend tensors and
return backend tensors (float32 unless the input is another float type).
"""

import math

import keras
from keras import ops

from keras_simple_diffusion.checks import check_number

LOGSNR_MIN = -15.0
LOGSNR_MAX = 15.0


def _as_float_tensor(t):
    t = ops.convert_to_tensor(t)
    if "float" not in str(t.dtype):
        t = ops.cast(t, "float32")
    return t


def _check_range(logsnr_min, logsnr_max):
    check_number("logsnr_min", logsnr_min)
    check_number("logsnr_max", logsnr_max)
    if not logsnr_min < logsnr_max:
        raise ValueError(
            "logsnr_min must be smaller than logsnr_max. Received: "
            f"logsnr_min={logsnr_min}, logsnr_max={logsnr_max}"
        )


def _check_resolution(name, value):
    return check_number(name, value, minimum=0.0, inclusive=(False, True))


def check_interpolation(noise_d_low, noise_d_high, low_name="noise_d_low"):
    """Checks the reference resolutions of an interpolated schedule: both
    positive, the one at pure noise (`low_name`) below `noise_d_high`."""
    _check_resolution(low_name, noise_d_low)
    _check_resolution("noise_d_high", noise_d_high)
    if not noise_d_low < noise_d_high:
        raise ValueError(
            f"`noise_d_high` ({noise_d_high}) must exceed `{low_name}` ({noise_d_low}, the "
            "reference resolution at pure noise of the interpolated schedule)."
        )


def logsnr_cosine(t, logsnr_min=LOGSNR_MIN, logsnr_max=LOGSNR_MAX):
    """Cosine schedule (alpha_t = cos(pi t / 2)) clipped to a logSNR range.

    The clipping reparametrises t instead of clamping the output, so the
    schedule stays smooth: ``logsnr(0) = logsnr_max``, ``logsnr(1) =
    logsnr_min`` and ``logsnr(0.5) = 0`` for a symmetric range.

    Args:
        t: diffusion time in [0, 1]; float, array or tensor.
        logsnr_min: logSNR at t = 1 (pure noise end).
        logsnr_max: logSNR at t = 0 (clean data end).

    Example:
    >>> float(logsnr_cosine(0.5))
    0.0
    """
    _check_range(logsnr_min, logsnr_max)
    t = _as_float_tensor(t)
    t_min = math.atan(math.exp(-0.5 * logsnr_max))
    t_max = math.atan(math.exp(-0.5 * logsnr_min))
    return -2.0 * ops.log(ops.tan(t_min + t * (t_max - t_min)))


def logsnr_shifted(t, image_d, noise_d, logsnr_min=LOGSNR_MIN, logsnr_max=LOGSNR_MAX):
    """Cosine schedule shifted from resolution `noise_d` to `image_d` (eq. 4-5).

    Averaging s x s pixels multiplies the SNR by s^2, so a schedule tuned for
    `noise_d` pixels is moved to `image_d` pixels by adding
    ``2 log(noise_d / image_d)`` to the logSNR. The clipping range applies to
    the unshifted cosine schedule, as in the paper.

    Args:
        t: diffusion time in [0, 1].
        image_d: image resolution (side length in pixels).
        noise_d: reference resolution the base schedule is tuned for (64 in
            the paper).
        logsnr_min, logsnr_max: range of the unshifted cosine schedule.

    Example:
    >>> float(logsnr_shifted(0.5, image_d=128, noise_d=64))  # 2 log(1/2)
    -1.386...
    """
    _check_resolution("image_d", image_d)
    _check_resolution("noise_d", noise_d)
    shift = 2.0 * math.log(noise_d / image_d)
    return logsnr_cosine(t, logsnr_min, logsnr_max) + shift


def logsnr_interpolated(
    t,
    image_d,
    noise_d_low,
    noise_d_high,
    logsnr_min=LOGSNR_MIN,
    logsnr_max=LOGSNR_MAX,
):
    """Interpolation between two shifted cosine schedules (eq. 6).

    ``logsnr(t) = t * shifted(t; noise_d_low) + (1 - t) * shifted(t; noise_d_high)``

    This is the form of the paper's appendix pseudo-code: near t = 1 (pure
    noise, global structure) it follows the stronger shift (`noise_d_low`),
    near t = 0 (fine detail) the weaker one (`noise_d_high`). The paper's main
    text eq. 6, as often transcribed, swaps the two weights; we follow the
    appendix.

    Args:
        t: diffusion time in [0, 1].
        image_d: image resolution.
        noise_d_low: the smaller reference resolution (e.g. 32 at 512 px).
        noise_d_high: the larger reference resolution (e.g. 256 at 512 px).
        logsnr_min, logsnr_max: range of the unshifted cosine schedule.

    Example:
    >>> logsnr = logsnr_interpolated([0.0, 1.0], 512, 32, 256)
    """
    check_interpolation(noise_d_low, noise_d_high)
    t = _as_float_tensor(t)
    low = logsnr_shifted(t, image_d, noise_d_low, logsnr_min, logsnr_max)
    high = logsnr_shifted(t, image_d, noise_d_high, logsnr_min, logsnr_max)
    return t * low + (1.0 - t) * high


def alpha_sigma(logsnr):
    """Returns `(alpha, sigma)` of the variance-preserving process at `logsnr`.

    ``alpha^2 = sigmoid(logsnr)``, ``sigma^2 = sigmoid(-logsnr)``.

    Example:
    >>> alpha, sigma = alpha_sigma(0.0)  # both sqrt(0.5)
    """
    logsnr = _as_float_tensor(logsnr)
    return ops.sqrt(ops.sigmoid(logsnr)), ops.sqrt(ops.sigmoid(-logsnr))


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class LogSNRSchedule:
    """A serialisable schedule object: call it with t to get logSNR.

    With only `noise_d` (or neither) it is the shifted cosine schedule; with
    `noise_d_low` and `noise_d_high` it is the interpolated one. With
    `noise_d == image_d` the shift is zero and it is the plain cosine schedule.

    Args:
        image_d: image resolution the model generates.
        noise_d: reference resolution of the shifted schedule; defaults to
            `image_d` (no shift) when no interpolation is requested.
        noise_d_low, noise_d_high: reference resolutions of the interpolated
            schedule; give both or neither.
        logsnr_min, logsnr_max: range of the unshifted cosine schedule.

    Example:
    >>> schedule = LogSNRSchedule(image_d=128, noise_d=64)
    >>> logsnr = schedule([0.0, 0.5, 1.0])
    """

    def __init__(
        self,
        image_d,
        noise_d=None,
        noise_d_low=None,
        noise_d_high=None,
        logsnr_min=LOGSNR_MIN,
        logsnr_max=LOGSNR_MAX,
    ):
        _check_resolution("image_d", image_d)
        _check_range(logsnr_min, logsnr_max)
        interpolated = (noise_d_low, noise_d_high) != (None, None)
        if interpolated:
            if noise_d is not None:
                raise ValueError(
                    "Pass either `noise_d` (shifted schedule) or `noise_d_low` and "
                    "`noise_d_high` (interpolated schedule), not both."
                )
            check_interpolation(noise_d_low, noise_d_high)
        else:
            noise_d = image_d if noise_d is None else noise_d
            _check_resolution("noise_d", noise_d)
        self.image_d = image_d
        self.noise_d = noise_d
        self.noise_d_low = noise_d_low
        self.noise_d_high = noise_d_high
        self.logsnr_min = float(logsnr_min)
        self.logsnr_max = float(logsnr_max)

    @property
    def interpolated(self):
        return self.noise_d_low is not None

    def __call__(self, t):
        if self.interpolated:
            return logsnr_interpolated(
                t,
                self.image_d,
                self.noise_d_low,
                self.noise_d_high,
                self.logsnr_min,
                self.logsnr_max,
            )
        return logsnr_shifted(t, self.image_d, self.noise_d, self.logsnr_min, self.logsnr_max)

    def get_config(self):
        return {
            "image_d": self.image_d,
            "noise_d": self.noise_d,
            "noise_d_low": self.noise_d_low,
            "noise_d_high": self.noise_d_high,
            "logsnr_min": self.logsnr_min,
            "logsnr_max": self.logsnr_max,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if v is not None)
        return f"LogSNRSchedule({args})"
