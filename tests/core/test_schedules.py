import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_simple_diffusion import schedules

T = np.linspace(0.0, 1.0, 101)


def reference_cosine(t, logsnr_min=-15.0, logsnr_max=15.0):
    t_min = math.atan(math.exp(-logsnr_max / 2))
    t_max = math.atan(math.exp(-logsnr_min / 2))
    return -2.0 * np.log(np.tan(t_min + t * (t_max - t_min)))


def as_numpy(x):
    return ops.convert_to_numpy(x).astype("float64")


@pytest.mark.parametrize("logsnr_range", [(-15.0, 15.0), (-10.0, 20.0)])
def test_cosine_matches_formula_at_many_t(logsnr_range):
    got = as_numpy(schedules.logsnr_cosine(T.astype("float32"), *logsnr_range))
    np.testing.assert_allclose(got, reference_cosine(T, *logsnr_range), rtol=1e-4, atol=2e-4)


def test_cosine_endpoints_and_midpoint():
    got = as_numpy(schedules.logsnr_cosine([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(got, [15.0, 0.0, -15.0], atol=1e-4)


def test_cosine_is_decreasing():
    assert np.all(np.diff(as_numpy(schedules.logsnr_cosine(T))) < 0)


def test_accepts_floats_numpy_and_backend_tensors():
    a = as_numpy(schedules.logsnr_cosine(0.3))
    b = as_numpy(schedules.logsnr_cosine(np.float32(0.3)))
    c = as_numpy(schedules.logsnr_cosine(ops.convert_to_tensor(0.3)))
    assert a == pytest.approx(b) and b == pytest.approx(c)


@pytest.mark.parametrize("image_d,noise_d", [(128, 64), (512, 64), (32, 64), (256, 32)])
def test_shift_multiplies_snr_by_resolution_ratio_squared(image_d, noise_d):
    shifted = as_numpy(schedules.logsnr_shifted(T, image_d, noise_d))
    base = as_numpy(schedules.logsnr_cosine(T))
    snr_ratio = np.exp(shifted - base)
    np.testing.assert_allclose(snr_ratio, (noise_d / image_d) ** 2, rtol=1e-4)


def test_interpolation_endpoints_follow_the_appendix_form():
    high = as_numpy(schedules.logsnr_shifted([0.0, 1.0], 512, 256))
    low = as_numpy(schedules.logsnr_shifted([0.0, 1.0], 512, 32))
    got = as_numpy(schedules.logsnr_interpolated([0.0, 1.0], 512, 32, 256))
    # t = 0 (fine detail): the weaker shift; t = 1 (pure noise): the stronger one.
    assert got[0] == pytest.approx(high[0], abs=1e-4)
    assert got[1] == pytest.approx(low[1], abs=1e-4)


def test_interpolation_at_many_t():
    got = as_numpy(schedules.logsnr_interpolated(T, 512, 32, 256))
    low = reference_cosine(T) + 2 * np.log(32 / 512)
    high = reference_cosine(T) + 2 * np.log(256 / 512)
    np.testing.assert_allclose(got, T * low + (1 - T) * high, rtol=1e-4, atol=3e-4)


def test_alpha_sigma_are_variance_preserving():
    logsnr = np.linspace(-20, 20, 41).astype("float32")
    alpha, sigma = (as_numpy(v) for v in schedules.alpha_sigma(logsnr))
    np.testing.assert_allclose(alpha**2 + sigma**2, 1.0, atol=1e-6)
    np.testing.assert_allclose(np.log(alpha**2 / sigma**2), logsnr, atol=1e-3)


def test_schedule_object_dispatch_and_serialization():
    shifted = schedules.LogSNRSchedule(image_d=128, noise_d=64)
    np.testing.assert_allclose(
        as_numpy(shifted(T)), as_numpy(schedules.logsnr_shifted(T, 128, 64)), atol=1e-6
    )
    interpolated = schedules.LogSNRSchedule(image_d=512, noise_d_low=32, noise_d_high=256)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(interpolated)
    )
    assert restored.get_config() == interpolated.get_config()
    np.testing.assert_allclose(as_numpy(restored(T)), as_numpy(interpolated(T)))
    assert as_numpy(schedules.LogSNRSchedule(image_d=64)(0.5)) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(image_d=64, noise_d=0), "noise_d"),
        (dict(image_d=64, noise_d=-3), "noise_d"),
        (dict(image_d=0), "image_d"),
        (dict(image_d=512, noise_d_low=256, noise_d_high=32), "must exceed `noise_d_low`"),
        (dict(image_d=512, noise_d=64, noise_d_low=32, noise_d_high=256), "not both"),
        (dict(image_d=64, logsnr_min=5.0, logsnr_max=-5.0), "logsnr_min"),
    ],
)
def test_bad_schedule_configuration_names_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        schedules.LogSNRSchedule(**kwargs)
