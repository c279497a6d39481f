"""Progressive distillation (Salimans & Ho 2022): few-step sampling.

Each round trains a student, initialised as a copy of its teacher, to match
two deterministic DDIM steps of the teacher with one of its own, so that the
student samples in half the teacher's steps; the student then becomes the
next round's teacher. For a student grid of N steps:

    t = i / N (i in 1..N),   z_t = alpha_t x + sigma_t eps
    teacher DDIM:  z_t -> z' at t - 1/(2N) -> z'' at s = t - 1/N
    x_target = (z'' - (sigma_s / sigma_t) z_t) / (alpha_s - (sigma_s / sigma_t) alpha_t)

`x_target` is the clean image for which one DDIM step of the student from
z_t lands exactly on z''. The student's x prediction is regressed onto it
with the "truncated SNR" weighting max(SNR, 1) (or "SNR+1", the plain v
loss), in the teacher's logSNR schedule. At t = 1 the schedule's clipped
logSNR (alpha small, not 0), which the sampler starts from too, keeps the
target finite. As in the authors' code, the teacher's predictions are not
clipped.
"""

import keras
from keras import ops

from keras_simple_diffusion.checks import check_choice, check_number, check_positive_int
from keras_simple_diffusion.choices import DISTILLATION_WEIGHTINGS
from keras_simple_diffusion.diffusion import DEFAULT_SAMPLING_STEPS, SimpleDiffusion
from keras_simple_diffusion.losses import multiscale_mean_square
from keras_simple_diffusion.parametrization import broadcast_like, denoised
from keras_simple_diffusion.samplers import (
    check_guidance_interval,
    ddim_step,
    guide,
    interval_guidance,
)
from keras_simple_diffusion.schedules import alpha_sigma

DEFAULT_LEARNING_RATE = 1e-4


def check_distillation_weighting(weighting):
    return check_choice("weighting", weighting, DISTILLATION_WEIGHTINGS)


def distillation_weight(logsnr, weighting="truncated_snr"):
    """The factor on the x-space error: max(SNR, 1) or SNR + 1."""
    check_distillation_weighting(weighting)
    snr = ops.exp(ops.cast(logsnr, "float32"))
    if weighting == "truncated_snr":
        return ops.maximum(snr, 1.0)
    return snr + 1.0


def distillation_target(z_t, z_s, logsnr_t, logsnr_s):
    """The x whose DDIM step from `z_t` (at `logsnr_t`) lands on `z_s` (at `logsnr_s`).

    Solves ``z_s = alpha_s x + sigma_s (z_t - alpha_t x) / sigma_t`` for x.
    `logsnr_s > logsnr_t`, so the denominator is positive; the sigma ratio
    is formed from softplus for accuracy at either end of the schedule.
    """
    alpha_t, _ = alpha_sigma(logsnr_t)
    alpha_s, _ = alpha_sigma(logsnr_s)
    # sigma^2 = sigmoid(-logsnr) = exp(-softplus(logsnr)).
    sigma_ratio = ops.exp(0.5 * (ops.softplus(logsnr_t) - ops.softplus(logsnr_s)))
    return (z_s - sigma_ratio * z_t) / (alpha_s - sigma_ratio * alpha_t)


def halving_steps(teacher_steps, target_steps=None, rounds=None):
    """The student step counts of the rounds that take `teacher_steps` to the target.

    Give `target_steps` (the teacher's count divided by a power of two) or
    `rounds` (the number of halvings).

    Example:
    >>> halving_steps(128, target_steps=16)
    [64, 32, 16]
    """
    teacher_steps = int(teacher_steps)
    if (target_steps is None) == (rounds is None):
        raise ValueError("Pass either `target_steps` or `rounds`.")
    if rounds is not None:
        target_steps = teacher_steps / 2 ** check_positive_int("rounds", rounds)
    counts = []
    steps = teacher_steps
    while steps > target_steps and steps % 2 == 0:
        steps //= 2
        counts.append(steps)
    if not counts or steps != target_steps:
        raise ValueError(
            f"The target of {target_steps:g} steps is not the teacher's {teacher_steps} steps "
            "divided by a power of two (2, 4, ...)."
        )
    return counts


def clone_denoiser(denoiser, guidance_input=False):
    """A copy of a denoiser: same configuration and weights, new variables.

    With `guidance_input`, the copy also takes a guidance weight (see
    `models.UViT`); its new guidance layers keep their initial values, and
    their zero projection makes the copy compute what the original does.
    """
    config = denoiser.get_config()
    if guidance_input:
        config["guidance_input"] = True
    clone = denoiser.__class__.from_config(config)
    for layer in denoiser.layers:
        if layer.weights:
            clone.get_layer(layer.name).set_weights(layer.get_weights())
    return clone


def teacher_step_count(teacher):
    """The step count a model samples with by default (its distilled count)."""
    return teacher.sampling_steps or DEFAULT_SAMPLING_STEPS


def check_guidance_range(guidance_range):
    """`(low, high)` guidance weights with 0 <= low <= high, as floats."""
    pair = tuple(guidance_range) if isinstance(guidance_range, (tuple, list)) else ()
    if len(pair) == 2:
        low, high = (check_number("guidance_range", value, minimum=0.0) for value in pair)
        if low <= high:
            return (low, high)
    raise ValueError(
        "`guidance_range` must be two guidance weights (low, high) with 0 <= low <= high. "
        f"Received: guidance_range={guidance_range!r}"
    )


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class ProgressiveDistillation(SimpleDiffusion):
    """One round of progressive distillation, trained with Keras' own `fit`.

    The model is the student: a `SimpleDiffusion` with a copy of the
    teacher's denoiser (same configuration and weights), the teacher's
    schedule, parametrisation and conditioning, sampled with DDIM in half
    the teacher's steps. It overrides only `compute_loss`, which draws
    t = i / N, noises the images, runs two DDIM steps of the frozen teacher
    and regresses the student's x prediction onto the x that one DDIM step
    would need (see the module docstring). Labels (class or text) are
    dropped to the null condition with the teacher's `label_dropout`, the
    same for teacher and student, so the student keeps its unconditional
    mode. `generate` samples the student; `distilled_model()` returns it as
    a plain `SimpleDiffusion`.

    Guided distillation (Meng et al. 2023) with `guidance_range=(low,
    high)`: the student takes the guidance weight w as an input (a copy of
    the teacher's denoiser with `guidance_input=True`), and each example
    draws w ~ U(low, high). A teacher without that input is guided as it
    samples, ``(1 + w) f(z, c) - w f(z, null)`` inside its guidance interval
    and unguided outside it; the student learns that, so it takes w at
    every step (no interval of its own). The first of the two
    stages, `halve=False`, then matches that guided prediction at t ~ U(0, 1)
    without halving the steps. The second stage halves the steps of such a
    student, the teacher taking w as its input. One student then samples at
    any weight in the range, one denoiser call per step.

    The teacher is frozen (`teacher.trainable` is set to False).

    Args:
        teacher: the `SimpleDiffusion` to distil.
        teacher_steps: the teacher's DDIM step count; defaults to the
            teacher's own sampling steps (128 for an undistilled model).
            Even when halving.
        weighting: "truncated_snr" (max(SNR, 1) on the x error, the
            default) or "snr_plus_one" (SNR + 1, the v loss).
        guidance_range: None, or the `(low, high)` guidance weights of
            guided distillation (a conditional teacher only).
        halve: match two teacher DDIM steps with one (the default), or,
            for the first stage of guided distillation, the guided
            teacher's prediction at the same t.
        denoiser: the student's denoiser; defaults to a copy of the
            teacher's (given when loading a saved distillation).
        seed: seed of the model's `SeedGenerator`s.

    Example:
    >>> distiller = ksd.ProgressiveDistillation(teacher)  # 128 -> 64 steps
    >>> distiller.compile(optimizer=keras.optimizers.Adam(1e-4))
    >>> distiller.fit(images, labels, epochs=1)
    >>> student = distiller.distilled_model()
    >>> samples = student.generate(labels=[0, 1])  # 64 DDIM steps
    """

    def __init__(
        self,
        teacher,
        teacher_steps=None,
        weighting="truncated_snr",
        guidance_range=None,
        halve=True,
        denoiser=None,
        seed=None,
        **kwargs,
    ):
        if isinstance(teacher, dict):
            teacher = keras.saving.deserialize_keras_object(teacher)
        if not isinstance(teacher, SimpleDiffusion):
            raise ValueError(
                f"The teacher must be a SimpleDiffusion model. Received: {type(teacher).__name__}"
            )
        teacher_steps = teacher_step_count(teacher) if teacher_steps is None else teacher_steps
        teacher_steps = check_positive_int("teacher_steps", teacher_steps)
        if halve and teacher_steps % 2:
            raise ValueError(
                "`teacher_steps` must be an even number of steps to halve. "
                f"Received: teacher_steps={teacher_steps}"
            )
        if guidance_range is not None:
            guidance_range = check_guidance_range(guidance_range)
            if not teacher.conditioning.conditional:
                raise ValueError(
                    "Guided distillation needs a conditional teacher (class labels or text); "
                    "this one is unconditional."
                )
        elif teacher.guidance_input:
            raise ValueError(
                "The teacher takes a guidance weight (a guided student): pass `guidance_range`."
            )
        if not halve and guidance_range is None:
            raise ValueError(
                "`halve=False` is the first stage of guided distillation: pass `guidance_range`."
            )
        if isinstance(denoiser, dict):
            denoiser = keras.saving.deserialize_keras_object(denoiser)
        student_steps = teacher_steps // 2 if halve else teacher_steps
        teacher_config = teacher.get_config()
        # A guided student has learnt its teacher's interval (see
        # `_teacher_denoised`); any other student is guided as its teacher.
        guidance_interval = None if guidance_range else teacher_config["guidance_interval"]
        super().__init__(
            denoiser or clone_denoiser(teacher.denoiser, guidance_input=guidance_range is not None),
            schedule=teacher.schedule,
            prediction=teacher_config["prediction"],
            loss_weighting=teacher_config["loss_weighting"],
            sigmoid_bias=teacher_config["sigmoid_bias"],
            multiscale=teacher_config["multiscale"],
            multiscale_min_size=teacher_config["multiscale_min_size"],
            label_dropout=teacher_config["label_dropout"],
            sampling_steps=student_steps,
            sampler="ddim",
            guidance=teacher_config["guidance"],
            guidance_interval=guidance_interval,
            seed=seed,
            **kwargs,
        )
        teacher.trainable = False
        self.teacher = teacher
        self.teacher_steps = teacher_steps
        self.student_steps = student_steps
        self.weighting = check_distillation_weighting(weighting)
        self.guidance_range = guidance_range
        self.halve = bool(halve)

    def _teacher_denoised(self, z, logsnr, condition, guidance):
        """The teacher's `(x_hat, eps_hat)` at per-example `logsnr`, guided
        with per-example weights `guidance` (or None)."""
        teacher = self.teacher
        conditioning = teacher.conditioning
        z_in, condition_in, logsnr_in = z, condition, logsnr
        two_passes = guidance is not None and not teacher.guidance_input
        if two_passes:
            interval = check_guidance_interval(teacher.resolve_guidance_interval())
            guidance = interval_guidance(guidance, logsnr, interval)
            z_in = ops.concatenate([z, z])
            condition_in = conditioning.concatenate(condition, conditioning.null(condition))
            logsnr_in = ops.concatenate([logsnr, logsnr])
        inputs = teacher._denoiser_inputs(z_in, logsnr_in, condition_in)
        if teacher.guidance_input:
            inputs["guidance"] = guidance
        output = ops.cast(teacher.denoiser(inputs, training=False), "float32")
        if two_passes:
            conditional, unconditional = ops.split(output, 2)
            output = guide(conditional, unconditional, broadcast_like(guidance, z))
        alpha, sigma = (broadcast_like(v, z) for v in alpha_sigma(logsnr))
        x_hat, eps_hat = denoised(teacher.prediction, output, z, alpha, sigma)
        return ops.stop_gradient(x_hat), ops.stop_gradient(eps_hat)

    def _teacher_ddim_step(self, z, logsnr_t, logsnr_s, condition, guidance):
        """One DDIM step of the teacher from `logsnr_t` to `logsnr_s` (per example)."""
        x_hat, eps_hat = self._teacher_denoised(z, logsnr_t, condition, guidance)
        return ddim_step(x_hat, eps_hat, broadcast_like(logsnr_s, z))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        images = self._check_images(x)
        batch = ops.shape(images)[0]
        steps = self.student_steps
        if self.halve:
            index = keras.random.randint((batch,), 1, steps + 1, seed=self.seed_generator)
            t = ops.cast(index, "float32") / steps
        else:
            t = keras.random.uniform((batch,), seed=self.seed_generator)
        z_t, _, logsnr_t, alpha, sigma = self._noised(images, t)
        condition = self._training_condition(y, training)
        guidance = None
        if self.guidance_range is not None:
            low, high = self.guidance_range
            guidance = keras.random.uniform((batch,), low, high, seed=self.seed_generator)

        if self.halve:
            logsnr_mid = self.schedule(t - 0.5 / steps)
            logsnr_s = self.schedule(t - 1.0 / steps)
            z_mid = self._teacher_ddim_step(z_t, logsnr_t, logsnr_mid, condition, guidance)
            z_s = self._teacher_ddim_step(z_mid, logsnr_mid, logsnr_s, condition, guidance)
            target = distillation_target(
                z_t, z_s, broadcast_like(logsnr_t, images), broadcast_like(logsnr_s, images)
            )
        else:
            target, _ = self._teacher_denoised(z_t, logsnr_t, condition, guidance)

        inputs = self._denoiser_inputs(z_t, logsnr_t, condition)
        if guidance is not None:
            inputs["guidance"] = guidance
        output = self.denoiser(inputs, training=training)
        x_hat, _ = denoised(self.prediction, ops.cast(output, "float32"), z_t, alpha, sigma)
        per_example = distillation_weight(logsnr_t, self.weighting) * multiscale_mean_square(
            ops.subtract(target, x_hat), self.loss_sizes
        )
        return self._batch_loss(per_example, sample_weight)

    def distilled_model(self):
        """The student as a plain `SimpleDiffusion` with a copy of its weights,
        sampled by default with DDIM in `student_steps` steps."""
        config = self.teacher.get_config()
        config.update(
            # Trainable, unlike the frozen teacher whose config this is: it
            # may be fine-tuned, or teach the next round.
            trainable=True,
            denoiser=clone_denoiser(self.denoiser),
            sampling_steps=self.student_steps,
            sampler="ddim",
            guidance_interval=self.guidance_interval,
            seed=self.seed,
        )
        return SimpleDiffusion(**config)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "teacher_steps": self.teacher_steps,
            "weighting": self.weighting,
            "guidance_range": self.guidance_range,
            "halve": self.halve,
            "denoiser": keras.saving.serialize_keras_object(self.denoiser),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class DistillationStopped(RuntimeError):
    """A round's `fit` stopped early (a callback set `stop_training`)."""


def default_optimizer(steps=None, learning_rate=DEFAULT_LEARNING_RATE, **options):
    """Adam with the learning rate annealed linearly to zero over a round of
    `steps` optimizer steps (constant when `steps` is None), as in Salimans &
    Ho; `options` go to `keras.optimizers.Adam` (e.g. `use_ema=True`)."""
    if steps is not None:
        learning_rate = keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, 0.0)
    return keras.optimizers.Adam(learning_rate, global_clipnorm=1.0, **options)


def distillation_plan(
    teacher, target_steps=None, rounds=None, teacher_steps=None, guidance_range=None
):
    """The rounds that distil `teacher`: `(teacher_steps, halve)` each.

    The halvings to `target_steps` (or `rounds` of them, see
    `halving_steps`), after, for guided distillation of a teacher that
    does not take the guidance weight yet, the first stage (`halve=False`).

    Example:
    >>> distillation_plan(teacher, target_steps=32, guidance_range=(0, 4))
    [(128, False), (128, True), (64, True)]
    """
    teacher_steps = teacher_step_count(teacher) if teacher_steps is None else teacher_steps
    plan = [(2 * steps, True) for steps in halving_steps(teacher_steps, target_steps, rounds)]
    if guidance_range is not None and not teacher.guidance_input:
        plan.insert(0, (teacher_steps, False))
    return plan


def distill(
    teacher,
    x,
    y=None,
    target_steps=None,
    rounds=None,
    steps_per_round=None,
    teacher_steps=None,
    weighting="truncated_snr",
    guidance_range=None,
    optimizer=None,
    callbacks=None,
    on_round_end=None,
    jit_compile="auto",
    seed=None,
    **fit_kwargs,
):
    """Progressive distillation: rounds of `ProgressiveDistillation`, each
    student the next round's teacher, until `target_steps` (see
    `distillation_plan`).

    Args:
        teacher: the `SimpleDiffusion` to distil (it is frozen).
        x, y: the training data, as for `fit` (images, and labels or tokens
            for a conditional model); with `steps_per_round` it must yield
            that many batches per round (a repeating `tf.data.Dataset`).
        target_steps: the final step count: the teacher's count divided by
            a power of two. Or give `rounds` (halvings) instead.
        steps_per_round: optimizer steps per round, run as epochs of
            `steps_per_epoch` (given in `fit_kwargs`, default the whole
            round); None runs each round as `fit(x, y, **fit_kwargs)`.
        teacher_steps: the teacher's step count; default its own.
        weighting, guidance_range: see `ProgressiveDistillation`; with a
            `guidance_range` the result takes the guidance weight as an input.
        optimizer: `(distiller) -> optimizer`, called once per round (a
            round starts with a fresh optimizer); default Adam at 1e-4
            annealed linearly to zero over the round. With `use_ema=True`
            the student keeps its EMA weights (Keras puts them in at the end
            of `fit`).
        callbacks: `(distiller) -> list of callbacks` for each round's `fit`.
        on_round_end: `(distiller, student) -> None`, called after each
            round with its distilled `SimpleDiffusion`.
        jit_compile: passed to `compile`.
        seed: seed of the distillers' `SeedGenerator`s.
        **fit_kwargs: passed to every round's `fit` (`batch_size`, `verbose`, ...).

    Returns:
        The distilled `SimpleDiffusion`, sampled by default with DDIM in
        `target_steps` steps.

    Raises:
        DistillationStopped: when a round's `fit` stopped early (a diverged
            loss, say); there is no student of that round.

    Example:
    >>> student = ksd.distill(teacher, dataset, target_steps=8, steps_per_round=2000)
    >>> images = student.generate(labels=[0, 1, 2])  # 8 DDIM steps
    """
    plan = distillation_plan(teacher, target_steps, rounds, teacher_steps, guidance_range)
    steps_per_epoch = fit_kwargs.pop("steps_per_epoch", steps_per_round)
    if steps_per_round is not None:
        if steps_per_round % steps_per_epoch:
            raise ValueError(
                f"`steps_per_round` ({steps_per_round}) must be a multiple of "
                f"`steps_per_epoch` ({steps_per_epoch})."
            )
        fit_kwargs.update(epochs=steps_per_round // steps_per_epoch)
    if steps_per_epoch is not None:
        fit_kwargs.update(steps_per_epoch=steps_per_epoch)
    for round_teacher_steps, halve in plan:
        distiller = ProgressiveDistillation(
            teacher,
            teacher_steps=round_teacher_steps,
            weighting=weighting,
            guidance_range=guidance_range,
            halve=halve,
            seed=seed,
        )
        distiller.compile(
            optimizer=optimizer(distiller) if optimizer else default_optimizer(steps_per_round),
            jit_compile=jit_compile,
        )
        distiller.fit(x, y, callbacks=callbacks(distiller) if callbacks else None, **fit_kwargs)
        if distiller.stop_training:
            raise DistillationStopped(
                f"Training stopped during the round from {distiller.teacher_steps} to "
                f"{distiller.student_steps} steps."
            )
        teacher = distiller.distilled_model()
        if on_round_end is not None:
            on_round_end(distiller, teacher)
    return teacher
