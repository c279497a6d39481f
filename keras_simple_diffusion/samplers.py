"""Samplers: ancestral (VDM form) and DDIM steps, guidance, and the loop.

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
"""

from keras import ops

from keras_simple_diffusion.checks import check_choice
from keras_simple_diffusion.schedules import alpha_sigma

SAMPLERS = ("ancestral", "ddim", "stochastic")


def check_sampler(sampler):
    return check_choice("sampler", sampler, SAMPLERS)


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


def time_grid(steps):
    """t_0 = 1 > t_1 > ... > t_steps = 0, uniformly spaced."""
    return 1.0 - ops.arange(steps + 1, dtype="float32") / steps


def sample_loop(denoise, z, schedule, steps, sampler, clip_denoised, draw_noise, seed_state):
    """Runs the sampler from pure noise `z` (t = 1) to t = 0.

    Args:
        denoise: `(z, logsnr) -> (x_hat, eps_hat)`, logsnr a scalar tensor.
        z: initial noise, (batch, H, W, C).
        schedule: t -> logSNR.
        steps: number of steps (a Python int).
        sampler: "ancestral", "ddim" or "stochastic".
        clip_denoised: clip x_hat to [-1, 1] at every step (eps_hat is then
            recomputed from the clipped x_hat so the two stay consistent).
        draw_noise: `(seed_state) -> (noise like z, new seed_state)`.
        seed_state: random state carried through the loop.

    Returns:
        The samples at t = 0, clipped to [-1, 1].

    The loop is `keras.ops.fori_loop`, so it compiles to one XLA while loop
    on JAX and TensorFlow when the caller is compiled.
    """
    check_sampler(sampler)
    grid = time_grid(steps)
    logsnrs = schedule(grid)

    def body(i, carry):
        z, seed_state = carry
        logsnr_t, logsnr_s = logsnrs[i], logsnrs[i + 1]
        x_hat, eps_hat = denoise(z, logsnr_t)
        if clip_denoised:
            x_hat = ops.clip(x_hat, -1.0, 1.0)
            alpha_t, sigma_t = alpha_sigma(logsnr_t)
            eps_hat = (z - alpha_t * x_hat) / sigma_t
        if sampler == "ddim":
            return ddim_step(x_hat, eps_hat, logsnr_s), seed_state
        noise, seed_state = draw_noise(seed_state)
        if sampler == "stochastic":
            # Twice the step, then noised back; on the last step t_far = t_s and
            # the noise's variance is zero.
            logsnr_far = logsnrs[ops.minimum(i + 2, steps)]
            z_far = ddim_step(x_hat, eps_hat, logsnr_far)
            return renoise(z_far, logsnr_far, logsnr_s, noise), seed_state
        last = ops.cast(ops.equal(i, steps - 1), z.dtype)
        return ancestral_step(z, x_hat, logsnr_t, logsnr_s, noise * (1.0 - last)), seed_state

    z, _ = ops.fori_loop(0, steps, body, (z, seed_state))
    return ops.clip(z, -1.0, 1.0)
