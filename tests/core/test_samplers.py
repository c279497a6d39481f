import numpy as np
import pytest
from keras import ops

from keras_simple_diffusion import samplers
from keras_simple_diffusion.schedules import LogSNRSchedule, alpha_sigma


def to_np(x):
    return ops.convert_to_numpy(x).astype("float64")


def test_ancestral_step_matches_the_vdm_formula():
    rng = np.random.RandomState(0)
    z, x_hat, noise = (rng.randn(2, 4, 4, 1).astype("float32") for _ in range(3))
    logsnr_t, logsnr_s = np.float32(-1.0), np.float32(2.0)
    got = to_np(samplers.ancestral_step(z, x_hat, logsnr_t, logsnr_s, noise))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    alpha_t, alpha_s, sigma_s = np.sqrt(sig(-1.0)), np.sqrt(sig(2.0)), np.sqrt(sig(-2.0))
    c = -np.expm1(-1.0 - 2.0)
    expected = alpha_s * (z * (1 - c) / alpha_t + c * x_hat) + np.sqrt(sigma_s**2 * c) * noise
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_ddim_step_matches_the_formula():
    x_hat, eps_hat = np.full((1, 2, 2, 1), 0.5, "float32"), np.full((1, 2, 2, 1), -1.0, "float32")
    alpha, sigma = (to_np(v) for v in alpha_sigma(1.0))
    np.testing.assert_allclose(
        to_np(samplers.ddim_step(x_hat, eps_hat, 1.0)), alpha * 0.5 - sigma, rtol=1e-6
    )


def test_renoise_keeps_the_forward_process_marginal():
    """From z_s = alpha_s x + sigma_s e, renoise must give alpha_t x + sigma_t e'."""
    rng = np.random.RandomState(0)
    logsnr_s, logsnr_t = np.float32(2.0), np.float32(-1.0)
    alpha_s, sigma_s = (to_np(v) for v in alpha_sigma(logsnr_s))
    alpha_t, sigma_t = (to_np(v) for v in alpha_sigma(logsnr_t))
    x = 0.5
    z_s = (alpha_s * x + sigma_s * rng.randn(200_000)).astype("float32")
    z_t = to_np(samplers.renoise(z_s, logsnr_s, logsnr_t, rng.randn(200_000).astype("float32")))
    assert abs(z_t.mean() - alpha_t * x) < 0.01
    assert abs(z_t.std() - sigma_t) < 0.01
    unchanged = to_np(samplers.renoise(z_s[:8], logsnr_s, logsnr_s, np.ones(8, "float32")))
    np.testing.assert_allclose(unchanged, z_s[:8], rtol=1e-6)


def test_stochastic_sampler_takes_double_ddim_steps_then_noises_back():
    """Two steps by hand: DDIM from t=1 to t=0 then back to t=1/2, then DDIM to 0."""
    schedule = LogSNRSchedule(image_d=4, noise_d=8)
    logsnrs = to_np(schedule(samplers.time_grid(2)))
    rng = np.random.RandomState(0)
    z0, noise = (rng.randn(1, 4, 4, 1).astype("float32") for _ in range(2))

    def shrink(z, logsnr):  # any denoiser: x_hat = z / 2
        z = ops.convert_to_tensor(z)
        alpha, sigma = alpha_sigma(logsnr)
        return z / 2.0, (z - alpha * z / 2.0) / sigma

    got = samplers.sample_loop(
        shrink, z0, schedule, 2, "stochastic", False, lambda state: (noise, state), 0
    )
    z = z0
    for logsnr_t, logsnr_far, logsnr_s in (
        (logsnrs[0], logsnrs[2], logsnrs[1]),
        (logsnrs[1], logsnrs[2], logsnrs[2]),  # the last step: no noise
    ):
        alpha_t, sigma_t = (to_np(v) for v in alpha_sigma(logsnr_t))
        x_hat = z / 2.0
        eps_hat = (z - alpha_t * x_hat) / sigma_t
        alpha_far, sigma_far = (to_np(v) for v in alpha_sigma(logsnr_far))
        alpha_s, sigma_s = (to_np(v) for v in alpha_sigma(logsnr_s))
        z_far = alpha_far * x_hat + sigma_far * eps_hat
        std = np.sqrt(sigma_s**2 * -np.expm1(logsnr_s - logsnr_far))
        z = alpha_s / alpha_far * z_far + std * noise
    np.testing.assert_allclose(to_np(got), np.clip(z, -1, 1), rtol=1e-4, atol=1e-5)


def test_guidance_formula():
    np.testing.assert_allclose(
        to_np(samplers.guide(np.float32(2.0), np.float32(0.5), 3.0)), 4 * 2.0 - 3 * 0.5
    )


def test_interval_guidance_guides_only_inside_the_interval():
    logsnrs = np.array([-9.0, -4.0, 0.0, 2.5, 6.0], "float32")
    weights = [
        float(to_np(samplers.interval_guidance(np.float32(2.0), logsnr, (-4.0, 2.5))))
        for logsnr in logsnrs
    ]
    assert weights == [0.0, 2.0, 2.0, 2.0, 0.0]
    assert samplers.check_guidance_interval(None) == (-np.inf, np.inf)
    assert samplers.check_guidance_interval([-np.inf, 3]) == (-np.inf, 3.0)


@pytest.mark.parametrize(
    "interval,message",
    [
        ((2.0, 1.0), r"must have low < high\. Received: guidance_interval=\(2\.0, 1\.0\)"),
        ((1.0,), r"two numbers \(low, high\) in logSNR\. Received: guidance_interval=\(1\.0,\)"),
        ("-4,2", "two numbers"),
        ((0.0, float("nan")), "two numbers"),
        ((True, 3), "two numbers"),
    ],
)
def test_bad_guidance_interval_names_the_problem(interval, message):
    with pytest.raises(ValueError, match=message):
        samplers.check_guidance_interval(interval)


@pytest.mark.parametrize("sampler", samplers.SAMPLERS)
def test_sampler_with_an_oracle_denoiser_lands_on_the_data_point(sampler):
    """If the data is one image, the ideal denoiser returns it; the sampler must too."""
    target = np.linspace(-0.9, 0.9, 16, dtype="float32").reshape(1, 4, 4, 1)
    schedule = LogSNRSchedule(image_d=4, noise_d=8)
    rng = np.random.RandomState(0)

    def oracle(z, logsnr):
        alpha, sigma = alpha_sigma(logsnr)
        return ops.convert_to_tensor(target), (z - alpha * target) / sigma

    def draw_noise(state):
        return ops.convert_to_tensor(rng.randn(1, 4, 4, 1).astype("float32")), state

    z = ops.convert_to_tensor(rng.randn(1, 4, 4, 1).astype("float32"))
    out = samplers.sample_loop(oracle, z, schedule, 16, sampler, True, draw_noise, 0)
    np.testing.assert_allclose(to_np(out), target, atol=1e-2)


def test_time_grid_and_unknown_sampler():
    np.testing.assert_allclose(to_np(samplers.time_grid(4)), [1.0, 0.75, 0.5, 0.25, 0.0])
    with pytest.raises(ValueError, match=r"`sampler` must be one of .*Received: sampler=.euler."):
        samplers.check_sampler("euler")
