"""Progressive distillation: the target, one round's training, the result."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_simple_diffusion as ksd
from keras_simple_diffusion.data import load_digits
from keras_simple_diffusion.distillation import (
    ProgressiveDistillation,
    distillation_target,
    distillation_weight,
    halving_steps,
)
from keras_simple_diffusion.samplers import DEFAULT_SAMPLER, ddim_step
from keras_simple_diffusion.schedules import alpha_sigma

TEACHER_STEPS = 8


@pytest.fixture(scope="module")
def digits():
    images, labels = load_digits(image_size=16)
    return images[:128], labels[:128]


@pytest.fixture(scope="module")
def teacher(digits):
    """A class-conditional tiny teacher, briefly trained so that its
    predictions depend on its input (the output layer starts at zero)."""
    images, labels = digits
    keras.utils.set_random_seed(0)
    model = ksd.SimpleDiffusion(
        ksd.build_denoiser("uvit-tiny", image_size=16, num_classes=10), noise_d=8, seed=0
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(images, labels, batch_size=32, epochs=2, verbose=0)
    return model


def loss_on_fixed_draws(model, images, labels):
    """The loss on the same times, noise and label drops at every call."""
    state = model.seed_generator.state
    initial = ops.convert_to_numpy(state.value)
    loss = model.evaluate(images, labels, batch_size=len(images), verbose=0)
    state.assign(initial)
    return loss


@pytest.fixture(scope="module")
def distilled(teacher, digits):
    """One round, 8 -> 4 steps, of 24 optimizer steps; and its loss before and after."""
    images, labels = digits
    distiller = ProgressiveDistillation(teacher, teacher_steps=TEACHER_STEPS, seed=1)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = loss_on_fixed_draws(distiller, images, labels)
    distiller.fit(images, labels, batch_size=32, epochs=6, verbose=0)
    after = loss_on_fixed_draws(distiller, images, labels)
    return distiller, before, after


def test_target_is_the_x_of_the_ddim_step_that_lands_on_z_s():
    rng = np.random.default_rng(0)
    x, z_t = rng.normal(size=(2, 3, 4, 4, 1)).astype("float32")
    logsnr_t, logsnr_s = np.float32(-6.0), np.float32(4.0)
    alpha_t, sigma_t = (float(v) for v in alpha_sigma(logsnr_t))
    z_s = ddim_step(x, (z_t - alpha_t * x) / sigma_t, logsnr_s)
    np.testing.assert_allclose(
        ops.convert_to_numpy(distillation_target(z_t, z_s, logsnr_t, logsnr_s)), x, atol=1e-4
    )


def test_weightings():
    logsnr = np.array([-2.0, 0.0, 3.0], "float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(distillation_weight(logsnr, "truncated_snr")),
        [1.0, 1.0, np.exp(3.0)],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(distillation_weight(logsnr, "snr_plus_one")),
        1.0 + np.exp(logsnr),
        rtol=1e-6,
    )


def test_halving_steps():
    assert halving_steps(128, target_steps=8) == [64, 32, 16, 8]
    assert halving_steps(128, rounds=2) == [64, 32]
    for target in (48, 128, 256, 0):
        with pytest.raises(ValueError, match="divided by a power of two"):
            halving_steps(128, target_steps=target)
    with pytest.raises(ValueError, match="either `target_steps` or `rounds`"):
        halving_steps(128)


@pytest.mark.slow
def test_untrained_student_misses_two_teacher_steps_and_training_closes_the_gap(distilled):
    _, before, after = distilled
    # The copy of the teacher does not reproduce two of its DDIM steps in one...
    assert before > 1e-3, before
    # ...until it is trained to.
    assert after < 0.6 * before, (before, after)


def test_the_student_trains_and_only_it(distilled):
    distiller, _, _ = distilled
    student_variables = {id(v) for v in distiller.denoiser.trainable_variables}
    assert {id(v) for v in distiller.trainable_variables} == student_variables
    # The distilled model is trainable (not frozen like the teacher it came
    # from), and as the next round's teacher it is frozen, without its
    # weights joining that round's trainable ones.
    student = distiller.distilled_model()
    assert student.trainable and len(student.trainable_variables) == len(student_variables)
    next_round = ProgressiveDistillation(student, teacher_steps=TEACHER_STEPS // 2)
    assert not student.trainable_variables
    assert {id(v) for v in next_round.trainable_variables} == {
        id(v) for v in next_round.denoiser.trainable_variables
    }


@pytest.mark.slow
def test_distilled_model_samples_its_steps_and_round_trips(distilled, tmp_path):
    distiller, _, _ = distilled
    student = distiller.distilled_model()
    assert type(student) is ksd.SimpleDiffusion
    assert (student.sampling_steps, student.sampler) == (TEACHER_STEPS // 2, "ddim")
    path = str(tmp_path / "student.keras")
    student.save(path)
    restored = keras.saving.load_model(path)
    assert restored.get_config() == student.get_config()
    # `generate` defaults to the distilled step count and DDIM...
    images = restored.generate(labels=[1, 7], seed=3)
    explicit = dict(labels=[1, 7], steps=TEACHER_STEPS // 2, sampler="ddim", seed=3)
    np.testing.assert_array_equal(images, student.generate(**explicit))
    np.testing.assert_array_equal(images, distiller.generate(**explicit))
    # ...not the teacher's steps, nor the ancestral sampler.
    for other in (dict(steps=TEACHER_STEPS), dict(sampler="ancestral")):
        assert np.abs(images - student.generate(**{**explicit, **other})).max() > 1e-3, other


@pytest.mark.slow
def test_distiller_round_trip(distilled, tmp_path):
    distiller, _, _ = distilled
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path, compile=False)
    assert isinstance(restored, ProgressiveDistillation)
    assert restored.get_config() == distiller.get_config()
    for model, original in ((restored, distiller), (restored.teacher, distiller.teacher)):
        for weight, want in zip(model.get_weights(), original.get_weights(), strict=True):
            np.testing.assert_array_equal(weight, want)


@pytest.mark.slow
def test_guided_student_starts_as_its_teacher_and_learns_the_weight(teacher, digits):
    images, labels = digits
    first = ProgressiveDistillation(teacher, guidance_range=(0.0, 4.0), halve=False, seed=0)
    assert first.denoiser.guidance_input and first.student_steps == 128
    inputs = dict(images=images[:4], noise_level=np.zeros(4, "float32"), class_labels=labels[:4])
    unguided = ops.convert_to_numpy(teacher.denoiser(inputs))
    for weight in (0.0, 3.0):
        guided = first.denoiser({**inputs, "guidance": np.full(4, weight, "float32")})
        np.testing.assert_allclose(ops.convert_to_numpy(guided), unguided, atol=1e-6)
    # Both stages: match the guided teacher, then halve the guided student's steps.
    student = ksd.distill(
        teacher,
        images,
        labels,
        target_steps=TEACHER_STEPS // 2,
        teacher_steps=TEACHER_STEPS,
        guidance_range=(0.0, 4.0),
        optimizer=lambda _: keras.optimizers.Adam(3e-3),
        seed=0,
        batch_size=32,
        epochs=1,
        verbose=0,
    )
    assert student.denoiser.guidance_input
    assert student.sampling_steps == TEACHER_STEPS // 2
    # One student, any weight: one denoiser call per step, the weight an input.
    weak, strong = (student.generate(labels=[3], guidance=w, seed=0) for w in (0.0, 4.0))
    assert np.abs(weak - strong).max() > 1e-3


def test_a_teacher_guided_on_an_interval_is_matched_as_it_samples(teacher):
    """Guided distillation targets the teacher's guidance inside its own
    interval only, so the student takes its weight at every step; a student
    distilled without guidance keeps the teacher's weight and interval."""
    on_interval = ksd.SimpleDiffusion(
        teacher.denoiser, noise_d=8, guidance=1.5, guidance_interval=(-2.0, 2.5), seed=0
    )
    guided = ProgressiveDistillation(on_interval, guidance_range=(0.0, 4.0), halve=False, seed=0)
    z = np.random.default_rng(0).normal(size=(2, 16, 16, 1)).astype("float32")
    logsnr = np.array([-6.0, 0.0], "float32")  # outside, inside the interval
    labels = np.array([3, 3], "int32")

    def teacher_x(weight):
        x_hat, _ = guided._teacher_denoised(z, logsnr, labels, np.full(2, weight, "float32"))
        return ops.convert_to_numpy(x_hat)

    unguided, strong = teacher_x(0.0), teacher_x(3.0)
    np.testing.assert_allclose(strong[0], unguided[0], atol=1e-6)
    assert np.abs(strong[1] - unguided[1]).max() > 1e-3
    assert guided.guidance_interval is None and guided.distilled_model().guidance_interval is None
    assert guided.distilled_model().guidance == 1.5
    plain = ProgressiveDistillation(on_interval, teacher_steps=TEACHER_STEPS, seed=0)
    assert plain.guidance_interval == [-2.0, 2.5] and plain.guidance == 1.5
    assert plain.distilled_model().guidance_interval == [-2.0, 2.5]


def test_bad_teachers_name_the_problem(teacher):
    with pytest.raises(ValueError, match="must be a SimpleDiffusion"):
        ProgressiveDistillation(teacher.denoiser)
    with pytest.raises(ValueError, match="even number of steps"):
        ProgressiveDistillation(teacher, teacher_steps=7)
    with pytest.raises(ValueError, match="`weighting` must be one of"):
        ProgressiveDistillation(teacher, weighting="eps")
    for bad in ((3.0, 1.0), (1.0,), (-1.0, 2.0)):
        with pytest.raises(ValueError, match="guidance_range"):
            ProgressiveDistillation(teacher, guidance_range=bad)
    unconditional = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-tiny", image_size=16))
    with pytest.raises(ValueError, match="needs a conditional teacher"):
        ProgressiveDistillation(unconditional, guidance_range=(0.0, 2.0))


@pytest.mark.parametrize("preset", ["uvit-tiny", "uvit-text-tiny"])
def test_unconditional_and_text_teachers(preset, digits):
    images = np.repeat(digits[0][:8], 3, axis=-1) if "text" in preset else digits[0][:8]
    teacher = ksd.SimpleDiffusion(
        ksd.build_denoiser(preset, image_size=16, channels=images.shape[-1]), seed=0
    )
    # One student step: every example at t = 1, where alpha is smallest.
    distiller = ProgressiveDistillation(teacher, teacher_steps=2, seed=0)
    distiller.compile()
    targets = None
    if distiller.text_encoder is not None:
        targets = distiller.tokenize(["a digit"] * len(images))
    loss = distiller.evaluate(images, targets, batch_size=8, verbose=0)
    assert np.isfinite(loss) and loss > 0


def test_models_saved_before_the_distillation_options_load_unchanged(teacher):
    # Without a sampler of their own they take today's default.
    config = teacher.get_config()
    assert (config.pop("sampling_steps"), config.pop("sampler")) == (None, DEFAULT_SAMPLER)
    denoiser_config = config["denoiser"]["config"]
    assert "guidance_input" not in denoiser_config
    restored = ksd.SimpleDiffusion.from_config(config)
    assert (restored.sampling_steps, restored.sampler) == (None, DEFAULT_SAMPLER)
    assert not restored.guidance_input
    with pytest.raises(ValueError, match="sampling_steps"):
        ksd.SimpleDiffusion(teacher.denoiser, sampling_steps=0)
