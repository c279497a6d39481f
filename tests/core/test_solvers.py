"""DPM-Solver++ (2M, 2M SDE) and the step spacings, against exact answers.

For Gaussian data x ~ N(MU, S^2) per pixel the optimal denoiser is the
posterior mean, ``E[x | z_t] = MU + alpha S^2 / (alpha^2 S^2 + sigma^2)
(z_t - alpha MU)``, and the probability-flow ODE keeps the standardised
value ``(z_t - alpha_t MU) / sqrt(alpha_t^2 S^2 + sigma_t^2)`` constant, so
its exact solution from t = 1 to t = 0 is an affine map of the noise.
"""

import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

import keras_simple_diffusion as ksd
from keras_simple_diffusion import choices, samplers
from keras_simple_diffusion.schedules import LogSNRSchedule, alpha_sigma
from keras_simple_diffusion.training import config

MU, S = 0.3, 0.2
# The default digits run's schedule: 32 px shifted to noise_d = 16.
SCHEDULE = LogSNRSchedule(image_d=32, noise_d=16)


def to_np(x):
    return ops.convert_to_numpy(x).astype("float64")


def np_alpha_sigma(logsnr):
    return np.sqrt(1 / (1 + np.exp(-logsnr))), np.sqrt(1 / (1 + np.exp(logsnr)))


def gaussian_denoiser(z, logsnr):
    z = ops.convert_to_tensor(z)
    alpha, sigma = alpha_sigma(logsnr)
    x_hat = MU + alpha * S**2 / (alpha**2 * S**2 + sigma**2) * (z - alpha * MU)
    return x_hat, (z - alpha * x_hat) / sigma


def exact_flow(z1, logsnr_noise, logsnr_data):
    """The probability-flow ODE's exact solution at `logsnr_data` from `z1`."""
    (a1, s1), (a0, s0) = np_alpha_sigma(logsnr_noise), np_alpha_sigma(logsnr_data)
    spread = lambda a, s: np.sqrt(a**2 * S**2 + s**2)  # noqa: E731
    return a0 * MU + spread(a0, s0) * (z1 - a1 * MU) / spread(a1, s1)


def no_noise(state):
    raise AssertionError("a deterministic sampler drew noise")


def final_errors(sampler, step_counts, spacing="logsnr"):
    z1 = np.random.RandomState(0).randn(1, 8, 8, 1).astype("float32")
    logsnrs = to_np(SCHEDULE([1.0, 0.0]))
    exact = exact_flow(z1.astype("float64"), *logsnrs)
    errors = []
    for steps in step_counts:
        out = samplers.sample_loop(
            gaussian_denoiser, z1, SCHEDULE, steps, sampler, False, no_noise, 0, spacing
        )
        errors.append(np.abs(to_np(out) - exact).max())
    return errors


def fitted_order(step_counts, errors):
    return np.polyfit(np.log(step_counts), np.log(errors), 1)[0]


def test_dpm_solver_2m_converges_at_second_order_and_ddim_at_first():
    """Final-sample error against the exact flow, uniform logSNR steps:
    about 4x less per doubling for 2M, 2x for DDIM."""
    step_counts = [16, 32, 64, 128]
    second = final_errors("dpmpp-2m", step_counts)
    first = final_errors("ddim", step_counts)
    assert -2.5 <= fitted_order(step_counts, second) <= -1.6, second
    assert -1.2 <= fitted_order(step_counts, first) <= -0.8, first
    assert all(s < f / 5 for s, f in zip(second, first)), (second, first)
    assert second[-1] < 1e-3, second


def np_multistep(z, logsnrs, denoise, noises=None):
    """DPM-Solver++(2M) (ODE without `noises`, SDE with them) as in
    k-diffusion, in sigma_VE = sigma / alpha: an independent transcription."""
    x_previous = None
    for i in range(len(logsnrs) - 1):
        lam_t, lam_s = logsnrs[i] / 2, logsnrs[i + 1] / 2
        (alpha_t, sigma_t), (alpha_s, sigma_s) = (np_alpha_sigma(v) for v in logsnrs[i : i + 2])
        h = lam_s - lam_t
        x_hat = denoise(z, logsnrs[i])
        d = x_hat
        if x_previous is not None and i < len(logsnrs) - 2:
            r = (lam_t - logsnrs[i - 1] / 2) / h
            d = (1 + 1 / (2 * r)) * x_hat - (1 / (2 * r)) * x_previous
        if noises is None:
            z = sigma_s / sigma_t * z - alpha_s * np.expm1(-h) * d
        else:
            last = i == len(logsnrs) - 2
            z = (
                sigma_s / sigma_t * np.exp(-h) * z
                - alpha_s * np.expm1(-2 * h) * d
                + (0.0 if last else sigma_s * np.sqrt(-np.expm1(-2 * h)) * noises[i])
            )
        x_previous = x_hat
    return z


@pytest.mark.parametrize("sampler", samplers.MULTISTEP_SAMPLERS)
@pytest.mark.parametrize("spacing", samplers.SPACINGS)
def test_multistep_solvers_match_their_published_update(sampler, spacing):
    rng = np.random.RandomState(1)
    z, noise = (rng.randn(1, 4, 4, 1).astype("float32") for _ in range(2))
    noise_tensor = ops.convert_to_tensor(noise)
    steps = 5
    logsnrs = to_np(samplers.logsnr_grid(SCHEDULE, steps, spacing))

    def np_denoise(z, logsnr):  # any smooth denoiser: a shrinking one
        alpha, sigma = np_alpha_sigma(logsnr)
        return np.tanh(alpha * z) * 0.8

    def denoise(z, logsnr):
        z = ops.convert_to_tensor(z)
        alpha, sigma = alpha_sigma(logsnr)
        x_hat = ops.tanh(alpha * z) * 0.8
        return x_hat, (z - alpha * x_hat) / sigma

    stochastic = sampler == "dpmpp-2m-sde"
    got = samplers.sample_loop(
        denoise, z, SCHEDULE, steps, sampler, False, lambda state: (noise_tensor, state), 0, spacing
    )
    expected = np_multistep(
        z.astype("float64"), logsnrs, np_denoise, [noise] * steps if stochastic else None
    )
    np.testing.assert_allclose(to_np(got), np.clip(expected, -1, 1), rtol=1e-4, atol=1e-4)


def test_dpm_solver_2m_sde_draws_from_the_data_distribution():
    """With the exact denoiser, 32 steps of the SDE solver give samples with
    the data's mean and spread (4096 independent pixels); 32 ancestral
    steps, first order, still visibly shrink the spread."""
    shape = (1, 64, 64, 1)
    z = ops.convert_to_tensor(np.random.RandomState(2).randn(*shape).astype("float32"))
    generator = keras.random.SeedGenerator(2)

    def draw(state):  # fresh noise each step, also inside a traced loop
        with keras.StatelessScope(state_mapping=[(generator.state, state)]) as scope:
            noise = keras.random.normal(shape, seed=generator)
            return noise, scope.get_current_value(generator.state)

    def sample(sampler):
        state = ops.convert_to_tensor([2, 0], dtype=generator.state.dtype)
        return to_np(
            samplers.sample_loop(
                gaussian_denoiser, z, SCHEDULE, 32, sampler, False, draw, state, "logsnr"
            )
        )

    solver, ancestral = sample("dpmpp-2m-sde"), sample("ancestral")
    assert abs(solver.mean() - MU) < 0.01 and abs(solver.std() - S) < 0.012, solver.std()
    assert abs(ancestral.mean() - MU) < 0.01 and ancestral.std() < S - 0.025, ancestral.std()


def test_spacings_share_the_schedule_ends():
    ends = to_np(SCHEDULE([1.0, 0.0]))
    time = to_np(samplers.logsnr_grid(SCHEDULE, 4, "time"))
    np.testing.assert_allclose(time, to_np(SCHEDULE(samplers.time_grid(4))), rtol=1e-6)
    logsnr = to_np(samplers.logsnr_grid(SCHEDULE, 4, "logsnr"))
    np.testing.assert_allclose(logsnr, np.linspace(*ends, 5), rtol=1e-5, atol=1e-5)
    karras = to_np(samplers.logsnr_grid(SCHEDULE, 4, "karras"))
    roots = np.linspace(*np.exp(-ends / 14.0), 5)  # (sigma / alpha)^(1 / 7)
    np.testing.assert_allclose(karras, -14.0 * np.log(roots), rtol=1e-4, atol=1e-4)
    for grid in (time, logsnr, karras):
        np.testing.assert_allclose(grid[[0, -1]], ends, rtol=1e-5)
        assert np.all(np.diff(grid) > 0)


def test_extrapolation_weights_lower_the_order_on_the_first_and_last_step():
    for steps in (1, 2):
        assert not to_np(samplers.extrapolation_weights(ops.arange(steps + 1.0))).any()
    logsnrs = ops.convert_to_tensor([0.0, 1.0, 3.0, 4.0, 8.0])
    np.testing.assert_allclose(
        to_np(samplers.extrapolation_weights(logsnrs)), [0.0, 2 / 2, 1 / 4, 0.0]
    )


@pytest.fixture(scope="module")
def model():
    denoiser = ksd.build_denoiser("uvit-tiny", num_classes=10)
    return ksd.SimpleDiffusion(denoiser, noise_d=16, seed=0)


@pytest.mark.parametrize("sampler", samplers.MULTISTEP_SAMPLERS)
def test_generate_with_a_solver_is_deterministic_per_seed_with_guidance(model, sampler):
    kwargs = dict(labels=[0, 1], steps=4, sampler=sampler, guidance=1.5)
    a = model.generate(seed=3, **kwargs)
    assert a.shape == (2, 32, 32, 1) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, model.generate(seed=3, **kwargs))
    assert np.abs(a - model.generate(seed=4, **kwargs)).max() > 0.05
    other = model.generate(seed=3, spacing="karras", **kwargs)
    assert np.abs(a - other).max() > 1e-3


@pytest.mark.parametrize(
    "solver,first_order", [("dpmpp-2m", "ddim"), ("dpmpp-2m-sde", "ancestral")]
)
def test_two_solver_steps_are_its_first_order_steps(model, solver, first_order):
    """The documented order lowering: no earlier prediction on the first
    step, a first-order last step."""
    kwargs = dict(labels=[2, 3], steps=2, spacing="time", seed=1)
    np.testing.assert_allclose(
        model.generate(sampler=solver, **kwargs),
        model.generate(sampler=first_order, **kwargs),
        atol=1e-5,
    )


def test_a_new_model_samples_with_32_dpm_solver_sde_steps():
    model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-tiny"), seed=0)
    assert model.sampling_defaults() == (32, "dpmpp-2m-sde")


@pytest.mark.parametrize(
    "sampler,own,other", [("dpmpp-2m-sde", "logsnr", "time"), ("ancestral", "time", "logsnr")]
)
def test_each_sampler_steps_on_its_own_spacing_unless_told(model, sampler, own, other):
    kwargs = dict(labels=[2, 3], steps=6, sampler=sampler, seed=1)
    default = model.generate(**kwargs)
    np.testing.assert_array_equal(default, model.generate(spacing=own, **kwargs))
    assert np.abs(default - model.generate(spacing=other, **kwargs)).max() > 1e-3


def test_the_model_keeps_its_sampler_through_saving(tmp_path):
    # A model saved with another sampler (ancestral was the default once)
    # keeps sampling with it.
    denoiser = ksd.build_denoiser("uvit-tiny", num_classes=10)
    model = ksd.SimpleDiffusion(denoiser, sampler="ancestral", seed=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.sampler == "ancestral"
    assert restored.sampling_defaults() == (128, "ancestral")
    assert restored.sampling_defaults(sampler="dpmpp-2m") == (32, "dpmpp-2m")
    assert restored.sampling_defaults(steps=7) == (7, "ancestral")


def test_bad_sampler_and_spacing_name_the_valid_ones(model):
    valid = r"\[.ancestral., .ddim., .dpmpp-2m., .dpmpp-2m-sde., .stochastic.\]"
    with pytest.raises(
        ValueError, match=rf"`sampler` must be one of {valid}. Received: sampler='dpm'"
    ):
        model.generate(labels=[0], sampler="dpm")
    with pytest.raises(
        ValueError, match=r"`spacing` must be one of \[.karras., .logsnr., .time.\]"
    ):
        model.generate(labels=[0], sampler="dpmpp-2m", spacing="uniform")
    with pytest.raises(ValueError, match="`sampler` must be one of"):
        ksd.SimpleDiffusion(model.denoiser, sampler="unipc")
    with pytest.raises(ValueError, match="`steps` must be at least 1"):
        model.generate(labels=[0], sampler="dpmpp-2m", steps=0)
    # The command line offers the very names the samplers check (`choices`).
    assert config.SAMPLERS is samplers.SAMPLERS is choices.SAMPLERS
    assert samplers.SPACINGS is choices.SPACINGS


def test_cli_rejects_an_unknown_sampler_with_the_valid_ones():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_simple_diffusion",
            "sample",
            "--checkpoint",
            "x",
            "--sampler",
            "dpm",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "invalid choice: 'dpm'" in result.stderr and "dpmpp-2m-sde" in result.stderr
