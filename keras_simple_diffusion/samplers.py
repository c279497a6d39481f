"""Samplers: ancestral (VDM form), DDIM, stochastic and DPM-Solver++ steps,
guidance, step spacings and the loop.

Pure keras.ops: a sampler sees a `denoise(z, logsnr) -> (x_hat, eps_hat)`
function and a schedule, never a network.

Ancestral step from t to s < t:

    c     = -expm1(logsnr_t - logsnr_s)
    mean  = alpha_s * (z_t * (1 - c) / alpha_t + c * x_hat)
    var   = sigma_s^2 * c
    z_s   = mean + sqrt(var) * noise      (no noise on the last step)

DDIM (deterministic): ``z_s = alpha_s * x_hat + sigma_s * eps_hat``.

Stochastic (Meng et al. 2023, for distilled models): from t_i a DDIM step
of twice the length to t_{i+2}, then noise back to t_{i+1}:

    z_{i+1} = (alpha_{i+1} / alpha_{i+2}) z_{i+2} + sigma_{i+1|i+2} * noise
    sigma_{i+1|i+2}^2 = sigma_{i+1}^2 * -expm1(logsnr_{i+1} - logsnr_{i+2})

and a plain DDIM step to t = 0 last: the same network calls as DDIM, with
fresh noise at every step but the last, as in ancestral sampling.

DPM-Solver++ (Lu et al. 2022) integrates the probability-flow ODE (or the
reverse SDE) in lambda = logsnr / 2 with the data prediction x_hat. With
h = lambda_s - lambda_t its first-order step is exactly DDIM,
``z_s = (sigma_s / sigma_t) z_t + alpha_s (1 - e^-h) x_hat``, and the
first-order step of its SDE variant is exactly the ancestral step. The
multistep second-order solvers (2M, 2M SDE) take the same steps with x_hat
replaced by its extrapolation from the previous step's prediction,

    x_2 = x_hat + (h / (2 h_prev)) (x_hat - x_hat_prev),

(eps_hat moved with it, so that z_t = alpha_t x_2 + sigma_t eps_2 still
holds). The first step has no previous prediction and the last step,
which jumps to the clean end in one long stride, is first order: 1 or 2
steps of a 2M solver are its first-order steps (DDIM or ancestral).
"""

import math
import numbers

from keras import ops

from keras_simple_diffusion.checks import check_choice
from keras_simple_diffusion.choices import SAMPLERS, SPACINGS
from keras_simple_diffusion.schedules import alpha_sigma

# Samplers that extrapolate x_hat from the previous step (second order).
MULTISTEP_SAMPLERS = ("dpmpp-2m", "dpmpp-2m-sde")
# `SPACINGS`: uniform in t (through the model's schedule, so the schedule's
# own spacing), uniform in logSNR, or EDM's rho = 7 spacing of sigma / alpha
# (Karras et al. 2022).
KARRAS_RHO = 7.0
# The sampler of a new model: DPM-Solver++(2M) SDE, whose 32 steps (spaced
# in logSNR) came within 1.1x of 128 ancestral steps' FD ratios on the
# digits, Fashion-MNIST and 128 px digits runs, at a quarter of the network
# calls (docs/samplers.md).
DEFAULT_SAMPLER = "dpmpp-2m-sde"
# What `generate` uses for each sampler when neither the call nor the model
# names them.
DEFAULT_STEPS = {
    "ancestral": 128,
    "ddim": 128,
    "stochastic": 128,
    "dpmpp-2m": 32,
    "dpmpp-2m-sde": 32,
}
# Uniform time steps, except for the default solver: on the shifted schedule
# at 128 px the time grid's last step spans logSNR 4.6 to 13.6, and 32 steps
# uniform in logSNR matched 128 ancestral steps there, where 32 time steps
# fell short (docs/samplers.md). The other samplers were not measured there,
# so they keep time.
DEFAULT_SPACINGS = {
    "ancestral": "time",
    "ddim": "time",
    "stochastic": "time",
    "dpmpp-2m": "time",
    "dpmpp-2m-sde": "logsnr",
}


def check_sampler(sampler):
    return check_choice("sampler", sampler, SAMPLERS)


def check_spacing(spacing):
    return check_choice("spacing", spacing, SPACINGS)


def ancestral_step(z, x_hat, logsnr_t, logsnr_s, noise):
    """One ancestral step; pass zero `noise` for the last step."""
    z, x_hat, noise = (ops.convert_to_tensor(v, "float32") for v in (z, x_hat, noise))
    alpha_t, _ = alpha_sigma(logsnr_t)
    alpha_s, sigma_s = alpha_sigma(logsnr_s)
    c = -ops.expm1(logsnr_t - logsnr_s)
    mean = alpha_s * (z * (1.0 - c) / alpha_t + c * x_hat)
    return mean + ops.sqrt(ops.square(sigma_s) * c) * noise


def ddim_step(x_hat, eps_hat, logsnr_s):
    """One deterministic DDIM step to logSNR `logsnr_s`."""
    x_hat, eps_hat = (
        ops.convert_to_tensor(x_hat, "float32"),
        ops.convert_to_tensor(eps_hat, "float32"),
    )
    alpha_s, sigma_s = alpha_sigma(logsnr_s)
    return alpha_s * x_hat + sigma_s * eps_hat


def renoise(z_s, logsnr_s, logsnr_t, noise):
    """A draw of z at logSNR `logsnr_t` from `z_s` at `logsnr_s` > `logsnr_t`: q(z_t | z_s)."""
    alpha_s, _ = alpha_sigma(logsnr_s)
    alpha_t, sigma_t = alpha_sigma(logsnr_t)
    variance = ops.square(sigma_t) * -ops.expm1(logsnr_t - logsnr_s)
    return alpha_t / alpha_s * z_s + ops.sqrt(variance) * noise


def guide(conditional, unconditional, guidance):
    """Classifier-free guidance: ``(1 + w) f(z, c) - w f(z, null)``."""
    conditional, unconditional = (
        ops.convert_to_tensor(conditional),
        ops.convert_to_tensor(unconditional),
    )
    return (1.0 + guidance) * conditional - guidance * unconditional


def check_guidance_interval(interval):
    """None (guidance at every step) or `(low, high)` in logSNR with
    low < high; None or an infinity at either end leaves it open. Returns
    two floats, -inf and inf for open ends."""
    if interval is None:
        return (-math.inf, math.inf)
    values = tuple(interval) if isinstance(interval, (tuple, list)) else ()
    bounds = tuple(
        bound if bound is not None else math.inf * sign for bound, sign in zip(values, (-1, 1))
    )
    if len(values) != 2 or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)
        for v in bounds
    ):
        raise ValueError(
            "`guidance_interval` must be None or two numbers (low, high) in logSNR. "
            f"Received: guidance_interval={interval!r}"
        )
    low, high = float(bounds[0]), float(bounds[1])
    if not low < high:
        raise ValueError(
            f"`guidance_interval` must have low < high. Received: guidance_interval={values!r}"
        )
    return (low, high)


def guidance_interval_config(interval):
    """`interval` for JSON (a model's config, a report), which has no
    infinity: None, or `[low, high]` with None for an open end."""
    if interval is None:
        return None
    return [bound if math.isfinite(bound) else None for bound in check_guidance_interval(interval)]


def interval_guidance(guidance, logsnr, interval):
    """The guidance weight at `logsnr`: `guidance` inside `interval` =
    (low, high), 0 outside. Kynkaanniemi et al. (2024) apply guidance only
    between high and low noise: at the noisiest steps it pulls the samples'
    layout and colours towards a few modes, and at the cleanest it changes
    little."""
    low, high = interval[0], interval[1]
    inside = ops.logical_and(ops.greater_equal(logsnr, low), ops.less_equal(logsnr, high))
    return ops.where(inside, guidance, ops.zeros_like(guidance))


def time_grid(steps):
    """t_0 = 1 > t_1 > ... > t_steps = 0, uniformly spaced."""
    return 1.0 - ops.arange(steps + 1, dtype="float32") / steps


def logsnr_grid(schedule, steps, spacing="time"):
    """logSNR at the `steps + 1` points from pure noise (t = 1) to the data
    end (t = 0), spaced by `spacing` (see `SPACINGS`); the ends are the
    schedule's."""
    check_spacing(spacing)
    if spacing == "time":
        return schedule(time_grid(steps))
    logsnr_noise, logsnr_data = schedule(1.0), schedule(0.0)
    fraction = ops.arange(steps + 1, dtype="float32") / steps
    if spacing == "logsnr":
        return logsnr_noise + fraction * (logsnr_data - logsnr_noise)
    # (sigma / alpha)^(1 / rho) = exp(-logsnr / (2 rho)) uniformly spaced.
    root_noise, root_data = (ops.exp(-v / (2.0 * KARRAS_RHO)) for v in (logsnr_noise, logsnr_data))
    return -2.0 * KARRAS_RHO * ops.log(root_noise + fraction * (root_data - root_noise))


def extrapolation_weights(logsnrs):
    """Weight of ``x_hat - x_hat_prev`` at each step of a second-order
    multistep solver: ``h / (2 h_prev)``, 0 on the first and the last step."""
    gaps = logsnrs[1:] - logsnrs[:-1]  # proportional to h in lambda
    steps = int(gaps.shape[0])
    if steps < 3:
        return ops.zeros((steps,), "float32")
    inner = gaps[1:-1] / (2.0 * gaps[:-2])
    return ops.concatenate([ops.zeros((1,)), inner, ops.zeros((1,))])


def sample_loop(
    denoise, z, schedule, steps, sampler, clip_denoised, draw_noise, seed_state, spacing="time"
):
    """Runs the sampler from pure noise `z` (t = 1) to t = 0.

    Args:
        denoise: `(z, logsnr) -> (x_hat, eps_hat)`, logsnr a scalar tensor.
        z: initial noise, (batch, H, W, C).
        schedule: t -> logSNR.
        steps: number of steps (a Python int).
        sampler: one of `SAMPLERS`.
        clip_denoised: clip x_hat to [-1, 1] at every step (eps_hat is then
            recomputed from the clipped x_hat so the two stay consistent).
        draw_noise: `(seed_state) -> (noise like z, new seed_state)`.
        seed_state: random state carried through the loop.
        spacing: where the steps fall, one of `SPACINGS`.

    Returns:
        The samples at t = 0, clipped to [-1, 1].

    The loop is `keras.ops.fori_loop`, so it compiles to one XLA while loop
    on JAX and TensorFlow when the caller is compiled. It carries the
    previous step's x_hat for the multistep solvers.
    """
    check_sampler(sampler)
    logsnrs = logsnr_grid(schedule, steps, spacing)
    weights = extrapolation_weights(logsnrs)

    def body(i, carry):
        z, x_previous, seed_state = carry
        logsnr_t, logsnr_s = logsnrs[i], logsnrs[i + 1]
        x_hat, eps_hat = denoise(z, logsnr_t)
        alpha_t, sigma_t = alpha_sigma(logsnr_t)
        if clip_denoised:
            x_hat = ops.clip(x_hat, -1.0, 1.0)
            eps_hat = (z - alpha_t * x_hat) / sigma_t
        x_step, eps_step = x_hat, eps_hat
        if sampler in MULTISTEP_SAMPLERS:
            shift = weights[i] * (x_hat - x_previous)
            x_step, eps_step = x_hat + shift, eps_hat - (alpha_t / sigma_t) * shift
        if sampler in ("ddim", "dpmpp-2m"):
            return ddim_step(x_step, eps_step, logsnr_s), x_hat, seed_state
        noise, seed_state = draw_noise(seed_state)
        if sampler == "stochastic":
            # Twice the step, then noised back; on the last step t_far = t_s and
            # the noise's variance is zero.
            logsnr_far = logsnrs[ops.minimum(i + 2, steps)]
            z_far = ddim_step(x_step, eps_step, logsnr_far)
            return renoise(z_far, logsnr_far, logsnr_s, noise), x_hat, seed_state
        last = ops.cast(ops.equal(i, steps - 1), z.dtype)
        z_s = ancestral_step(z, x_step, logsnr_t, logsnr_s, noise * (1.0 - last))
        return z_s, x_hat, seed_state

    z, _, _ = ops.fori_loop(0, steps, body, (z, ops.zeros_like(z), seed_state))
    return ops.clip(z, -1.0, 1.0)
