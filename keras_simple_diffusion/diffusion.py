"""`SimpleDiffusion`: the Keras model that trains a denoiser with `fit` and
samples with `generate`, on JAX, TensorFlow and PyTorch alike."""

import contextlib
import functools
import os
import types

import keras
import numpy as np
from keras import ops

from keras_simple_diffusion.backend import (
    compile_inference,
    scale_loss_for_replicas,
    unshare_variable_buffers,
)
from keras_simple_diffusion.checks import check_number, check_positive_int, check_seed
from keras_simple_diffusion.conditioning import for_denoiser
from keras_simple_diffusion.data.checks import check_images
from keras_simple_diffusion.files import atomic_path
from keras_simple_diffusion.losses import (
    check_weighting,
    default_sigmoid_bias,
    diffusion_loss,
    multiscale_sizes,
)
from keras_simple_diffusion.parametrization import (
    broadcast_like,
    check_prediction,
    denoised,
    diffuse,
    epsilon_error,
)
from keras_simple_diffusion.samplers import (
    DEFAULT_SAMPLER,
    DEFAULT_SPACINGS,
    DEFAULT_STEPS,
    check_guidance_interval,
    check_sampler,
    check_spacing,
    guidance_interval_config,
    guide,
    interval_guidance,
    sample_loop,
)
from keras_simple_diffusion.schedules import LogSNRSchedule, alpha_sigma

# Steps of the first-order samplers for a model without its own
# `sampling_steps` (a distillation teacher's, say).
DEFAULT_SAMPLING_STEPS = DEFAULT_STEPS["ancestral"]


class NonFiniteSamples(ValueError):
    """`generate` produced NaN or inf: the model, not the request, is broken."""


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class SimpleDiffusion(keras.Model):
    """End-to-end pixel-space diffusion around a denoiser (simple diffusion).

    Training is Keras' own `fit`: this model only overrides `compute_loss`,
    which draws t ~ U(0, 1) and Gaussian noise from a model-owned
    `SeedGenerator`, noises the images with the (shifted or interpolated)
    logSNR schedule, calls the denoiser and returns the weighted (multiscale)
    loss. Keras' trainers handle gradients, metrics, loss scaling and
    distribution on every backend. `call()` returns its input unchanged (the
    training step needs the noise drawn in `compute_loss`); use `generate()`
    to sample, or `model.denoiser` for a raw prediction.

    The dataset yields images in [-1, 1], shape (batch, H, W, C), and, for a
    class-conditional denoiser, `(images, labels)`; for a text-conditioned
    denoiser (one with a `text_encoder`), `(images, tokens)` with tokens
    `{"token_ids", "padding_mask"}` from the denoiser's tokenizer: map a
    dataset of `(images, captions)` with `model.tokenize_dataset(dataset)`
    (strings cannot be tensors on JAX or PyTorch, so this runs in tf.data).

    Args:
        denoiser: a `keras_simple_diffusion.models.Denoiser` (UNet, UViT).
        image_size: optional check; must equal `denoiser.image_size`.
        noise_d: reference resolution of the shifted cosine schedule (the
            paper uses 64); defaults to the image size (no shift).
        noise_d_low, noise_d_high: use the interpolated schedule between
            these two reference resolutions instead (e.g. 32 and 256 at 512).
        schedule: a `LogSNRSchedule` to use instead of the arguments above.
        prediction: what the denoiser predicts, "v" (default), "eps" or "x".
        loss_weighting: "eps" (the paper's default), "v" or "sigmoid" (SiD2).
        sigmoid_bias: bias of the "sigmoid" weighting; defaults to SiD2's
            value for the image size.
        multiscale: use the multiscale loss; defaults to True for images
            larger than `multiscale_min_size`.
        multiscale_min_size: the smallest scale of the multiscale loss.
        label_dropout: probability of replacing a label with the null class
            (or a caption with the empty prompt, for text conditioning)
            during training, for classifier-free guidance.
        sampling_steps: the steps `generate` takes by default; None for
            the sampler's own default (`samplers.DEFAULT_STEPS`: 32 for
            the DPM-Solver++ samplers, 128 for the first-order ones). A
            distilled model (see
            `ProgressiveDistillation`) has its distilled count here.
        sampler: the sampler `generate` uses by default, one of
            `samplers.SAMPLERS`: "dpmpp-2m-sde" (`samplers.DEFAULT_SAMPLER`),
            "ancestral", "ddim" (the one a distilled model was distilled
            for), "stochastic" or "dpmpp-2m" (see `samplers`).
        guidance: the classifier-free guidance weight `generate` uses when
            the call names none and there are labels or prompts to guide
            by; None for no weight of its own (unguided).
        guidance_interval: the logSNR interval `(low, high)` that
            `generate` guides on when the call names none; None guides
            every step.
        seed: seed of the model's `SeedGenerator`s.

    Example:
    >>> denoiser = ksd.models.build_denoiser("uvit-tiny", num_classes=10)
    >>> model = ksd.SimpleDiffusion(denoiser, noise_d=64)
    >>> model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    >>> model.fit(images, labels, epochs=1)
    >>> samples = model.generate(labels=[0, 1, 2], steps=32, guidance=2.0, seed=0)

    Text to image:
    >>> denoiser = ksd.build_denoiser("uvit-shapes-text")
    >>> model = ksd.SimpleDiffusion(denoiser)
    >>> model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    >>> model.fit(model.tokenize_dataset(ksd.data.load_dataset("shapes").dataset))
    >>> samples = model.generate(prompts=["a large red circle at the top left"], guidance=3.0)
    """

    def __init__(
        self,
        denoiser,
        image_size=None,
        noise_d=None,
        noise_d_low=None,
        noise_d_high=None,
        schedule=None,
        prediction="v",
        loss_weighting="eps",
        sigmoid_bias=None,
        multiscale=None,
        multiscale_min_size=32,
        label_dropout=0.1,
        sampling_steps=None,
        sampler=DEFAULT_SAMPLER,
        guidance=None,
        guidance_interval=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if image_size is not None and image_size != denoiser.image_size:
            raise ValueError(
                f"image_size={image_size} does not match the denoiser's image_size="
                f"{denoiser.image_size}."
            )
        label_dropout = check_number(
            "label_dropout", label_dropout, minimum=0.0, maximum=1.0, inclusive=(True, False)
        )
        self.denoiser = denoiser
        self._conditioning = for_denoiser(denoiser)
        self.image_size = denoiser.image_size
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        self.schedule = schedule or LogSNRSchedule(
            self.image_size, noise_d=noise_d, noise_d_low=noise_d_low, noise_d_high=noise_d_high
        )
        self.prediction = check_prediction(prediction)
        self.loss_weighting = check_weighting(loss_weighting)
        self.sigmoid_bias = (
            default_sigmoid_bias(self.image_size)
            if sigmoid_bias is None
            else check_number("sigmoid_bias", sigmoid_bias)
        )
        self.multiscale = (
            self.image_size > multiscale_min_size if multiscale is None else bool(multiscale)
        )
        self.multiscale_min_size = multiscale_min_size
        self.label_dropout = label_dropout
        self.sampling_steps = check_positive_int("sampling_steps", sampling_steps, allow_none=True)
        self.sampler = check_sampler(sampler)
        self.guidance = (
            None if guidance is None else check_number("guidance", guidance, minimum=0.0)
        )
        self.guidance_interval = guidance_interval_config(guidance_interval)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="training_seed_generator")
        self.sampling_seed_generator = keras.random.SeedGenerator(
            seed, name="sampling_seed_generator"
        )
        self._generate_functions = {}
        self.built = True

    @property
    def num_classes(self):
        return self.denoiser.num_classes

    @property
    def conditioning(self):
        """What the denoiser is conditioned on: an `Unconditional`,
        `ClassLabels` or `TextPrompts` from `keras_simple_diffusion.conditioning`."""
        return self._conditioning

    @property
    def guidance_input(self):
        """Whether the denoiser takes the guidance weight as an input (a
        student of guided distillation): guided sampling is then one call."""
        return bool(getattr(self.denoiser, "guidance_input", False))

    @property
    def text_encoder(self):
        """The denoiser's `TextEncoder`, or None (not text-conditioned)."""
        return getattr(self.denoiser, "text_encoder", None)

    def _text_preprocessor(self):
        if self.text_encoder is None:
            raise ValueError("The denoiser is not text-conditioned (no `text_encoder`).")
        return self.text_encoder.preprocessor

    def tokenize(self, prompts):
        """Tokenises prompts on the host: NumPy `{"token_ids", "padding_mask"}`."""
        return self._text_preprocessor().tokenize(prompts)

    def tokenize_dataset(self, dataset):
        """Maps a `tf.data` dataset of `(images, captions)` to `(images, tokens)`."""
        return self._text_preprocessor().tokenize_dataset(dataset)

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.denoiser.channels)

    @property
    def loss_sizes(self):
        """Resolutions of the loss: all scales if multiscale, else the image size."""
        if self.multiscale:
            return multiscale_sizes(self.image_size, self.multiscale_min_size)
        return [self.image_size]

    def call(self, inputs, training=False):
        return inputs

    def _check_image_spec(self, images):
        """Checks the static shape and dtype of a batch of images (a tensor,
        an array or a `tf.TensorSpec`); graph-safe."""
        shape = tuple(images.shape)
        if len(shape) != 4 or any(
            got is not None and got != want for got, want in zip(shape[1:], self.image_shape)
        ):
            raise ValueError(
                f"SimpleDiffusion expects images of shape (batch, {self.image_size}, "
                f"{self.image_size}, {self.denoiser.channels}) in [-1, 1]. Received "
                f"shape {shape}. Resize the data or build the denoiser for this shape."
            )
        dtype = keras.backend.standardize_dtype(images.dtype)
        if not (keras.backend.is_float_dtype(dtype) or keras.backend.is_int_dtype(dtype)):
            raise ValueError(f"Images must be numbers in [-1, 1]. Received dtype {dtype}.")

    def _check_images(self, images):
        """Checked images as float32 (graph-safe)."""
        self._check_image_spec(images)
        return ops.cast(images, "float32")

    def _denoiser_inputs(self, z, logsnr, condition):
        return {"images": z, "noise_level": logsnr, **self.conditioning.denoiser_inputs(condition)}

    def _training_condition(self, y, training):
        """The condition from the dataset's targets, dropped to the null
        condition with probability `label_dropout` while training."""
        condition = self.conditioning.from_targets(y)
        if training:
            condition = self.conditioning.drop(condition, self.label_dropout, self.seed_generator)
        return condition

    def _noised(self, images, t):
        """`(z, eps, logsnr, alpha, sigma)`: `images` noised at times `t`
        (per example) with noise from the training seed generator."""
        logsnr = self.schedule(t)
        alpha, sigma = (broadcast_like(v, images) for v in alpha_sigma(logsnr))
        eps = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        return diffuse(images, eps, alpha, sigma), eps, logsnr, alpha, sigma

    def _batch_loss(self, per_example, sample_weight):
        """The loss `compute_loss` returns: the (sample-weighted) mean of the
        per-example losses plus the layers' losses, scaled for replicas."""
        if sample_weight is not None:
            per_example = per_example * ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
        loss = ops.mean(per_example)
        # One term at a time: torch.compile (torch 2.x on CUDA) traced
        # `ops.sum(self.losses)` with an empty list past an `if self.losses`
        # and failed in torch.stack.
        for layer_loss in self.losses:
            loss = loss + ops.cast(layer_loss, "float32")
        return scale_loss_for_replicas(loss)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        images = self._check_images(x)
        batch = ops.shape(images)[0]
        t = keras.random.uniform((batch,), seed=self.seed_generator)
        z, eps, logsnr, alpha, sigma = self._noised(images, t)
        condition = self._training_condition(y, training)
        output = self.denoiser(self._denoiser_inputs(z, logsnr, condition), training=training)
        error = epsilon_error(
            self.prediction, ops.cast(output, "float32"), images, eps, alpha, sigma
        )
        per_example = diffusion_loss(
            error, logsnr, self.loss_weighting, self.sigmoid_bias, self.loss_sizes
        )
        return self._batch_loss(per_example, sample_weight)

    # Training and saving.

    def _check_batch(self, images, targets, source):
        """Checks one batch of host data: shapes, dtypes and values."""
        self._check_image_spec(images)
        check_images(images, source)
        self.conditioning.check_targets(targets, source)

    def _check_fit_data(self, x, y, source):
        """Checks what `fit` will read before Keras traces a step: the
        element spec and first batch of a `tf.data` dataset, the first batch
        of a generator, `PyDataset` or other iterable, or whole arrays.
        Returns `x`, re-chained when it is a generator (its first batch had
        to be read)."""
        unpack = keras.utils.unpack_x_y_sample_weight
        if x is None:
            return x
        if hasattr(x, "element_spec"):  # tf.data
            images, targets, _ = unpack(x.element_spec)
            self._check_image_spec(images)
            self.conditioning.check_spec(targets)
            if not hasattr(x, "take"):  # a distributed dataset: the spec only
                return x
            batch = next(iter(x.take(1)), None)
        elif isinstance(x, types.GeneratorType):
            batch = next(x, None)
            if batch is not None:
                x = _chain(batch, x)
        elif isinstance(x, keras.utils.PyDataset):
            batch = x[0]
        elif hasattr(x, "shape"):
            batch = (x, y)
        elif hasattr(x, "__iter__"):  # a torch DataLoader, a grain dataset, ...
            batch = next(iter(x), None)
        else:
            return x
        if batch is None:
            return x
        images, targets, _ = unpack(batch)
        self._check_batch(np.asarray(images), _to_numpy(targets), source)
        return x

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, after checking the data (see `compute_loss`).

        Images must be finite numbers in [-1, 1] of the denoiser's shape and
        labels integers in [0, num_classes) (or tokens of the right length):
        the first batch (all of it for arrays) and the dataset's element spec
        are checked before Keras traces a step, so bad data raises a
        one-line `ValueError` instead of training on nonsense. A `fit` that
        fails anyway leaves the model usable (weights, `generate`, `save`,
        and a later `fit`).
        """
        x = self._check_fit_data(x, y, "the training data")
        validation_data = kwargs.get("validation_data")
        if isinstance(validation_data, (tuple, list)):
            validation_x, validation_y, _ = keras.utils.unpack_x_y_sample_weight(
                tuple(validation_data)
            )
            self._check_fit_data(validation_x, validation_y, "the validation data")
        elif validation_data is not None:
            kwargs["validation_data"] = self._check_fit_data(
                validation_data, None, "the validation data"
            )
        if self.optimizer is not None and not self.optimizer.built:
            # Built here rather than inside Keras' first step (in the
            # strategy's scope under `tf.distribute`, as Keras does), so that
            # the optimizer's variables are among those restored on failure.
            strategy = getattr(self, "distribute_strategy", None)
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                self.optimizer.build(self.trainable_variables)
        return self._usable_after_failure(super().fit, x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`, after the checks of `fit`."""
        if not kwargs.get("_use_cached_eval_dataset"):  # `fit`'s, already checked
            x = self._check_fit_data(x, y, "the evaluation data")
        return self._usable_after_failure(super().evaluate, x, y, *args, **kwargs)

    def _state_variables(self):
        optimizer_variables = list(self.optimizer.variables) if self.optimizer else []
        return list(self.variables) + optimizer_variables + list(self.metrics_variables)

    def _usable_after_failure(self, method, *args, **kwargs):
        """Runs Keras' `fit` or `evaluate`; if it fails, undoes what a step
        that failed while Keras traced it leaves behind.

        Keras' JAX trainer moves the variables' values into the step's state
        (`variable._value = None`) and puts them back only after a step
        finished, and its TensorFlow trainer keeps a `tf.function` that may
        not create variables on a second trace: restore the values and drop
        the compiled steps, so that they are traced afresh next time. Either
        way, no two variables may share an array for the next call
        (`unshare_variable_buffers`).
        """
        variables = self._state_variables()
        values = {id(variable): variable._value for variable in variables}
        try:
            return method(*args, **kwargs)
        except BaseException:
            for variable in self._state_variables():
                if variable._value is None:
                    value = values.get(id(variable))
                    if value is None:  # a metric built by the failed call
                        value = ops.zeros(variable.shape, variable.dtype)
                    variable.assign(value)
            self.train_function = self.test_function = None
            raise
        finally:
            unshare_variable_buffers(self._state_variables())

    def save(self, filepath, overwrite=True, **kwargs):
        """`keras.Model.save` through a temporary file moved into place, so
        that a save that fails never leaves a partial or empty file."""
        in_place = (
            not isinstance(filepath, (str, os.PathLike))
            or kwargs.get("zipped") is False  # a folder, not a file
            or (not overwrite and os.path.exists(filepath))  # Keras asks first
        )
        if in_place:
            return super().save(filepath, overwrite=overwrite, **kwargs)
        with atomic_path(filepath) as temporary:
            super().save(temporary, overwrite=True, **kwargs)

    # Sampling.

    def _draw_normal(self, shape, seed_state):
        """Normal noise from an explicit seed state; returns the next state.

        The state is carried through the sampling loop instead of living in
        the generator's variable, so one compiled loop draws fresh noise at
        every step and the same seed always gives the same images.
        """
        generator = self.sampling_seed_generator
        with keras.StatelessScope(state_mapping=[(generator.state, seed_state)]) as scope:
            noise = keras.random.normal(shape, seed=generator)
            return noise, scope.get_current_value(generator.state)

    def _generate_batch(
        self,
        condition,
        seed_state,
        guidance,
        guidance_interval,
        batch,
        steps,
        sampler,
        spacing,
        guided,
        clip_denoised,
    ):
        shape = (batch,) + self.image_shape
        z, seed_state = self._draw_normal(shape, seed_state)
        conditioning = self.conditioning

        def denoise(z, logsnr):
            weight = interval_guidance(guidance, logsnr, guidance_interval)
            z_in, condition_in, copies = z, condition, 1
            if guided:
                condition_in = conditioning.concatenate(condition, conditioning.null(condition))
                z_in, copies = ops.concatenate([z, z]), 2
            logsnr_in = ops.full((copies * batch,), logsnr)
            inputs = self._denoiser_inputs(z_in, logsnr_in, condition_in)
            if self.guidance_input:
                inputs["guidance"] = ops.full((batch,), weight)
            output = self.denoiser(inputs, training=False)
            output = ops.cast(output, "float32")
            if guided:
                conditional, unconditional = ops.split(output, 2)
                output = guide(conditional, unconditional, weight)
            alpha, sigma = alpha_sigma(logsnr)
            return denoised(self.prediction, output, z, alpha, sigma)

        draw = functools.partial(self._draw_normal, shape)
        return sample_loop(
            denoise, z, self.schedule, steps, sampler, clip_denoised, draw, seed_state, spacing
        )

    def _generate_function(self, batch, steps, sampler, spacing, guided, clip_denoised):
        key = (batch, steps, sampler, spacing, guided, clip_denoised)
        if key not in self._generate_functions:
            step = functools.partial(
                self._generate_batch,
                batch=batch,
                steps=steps,
                sampler=sampler,
                spacing=spacing,
                guided=guided,
                clip_denoised=clip_denoised,
            )
            self._generate_functions[key] = compile_inference(self, step)
        return self._generate_functions[key]

    def _check_finite(self, images):
        """Raises if sampling produced NaN or inf, naming the likely cause."""
        bad = images.size - np.count_nonzero(np.isfinite(images))
        if not bad:
            return
        broken = [
            weight.path
            for weight in self.denoiser.weights
            if keras.backend.is_float_dtype(weight.dtype)
            and not np.isfinite(ops.convert_to_numpy(weight)).all()
        ]
        cause = (
            f"{len(broken)} of the denoiser's weights hold NaN or inf (e.g. {broken[0]}): "
            "the training run that produced them diverged"
            if broken
            else "the denoiser's output overflowed"
        )
        raise NonFiniteSamples(f"generate produced {bad} non-finite pixel value(s): {cause}.")

    def sampling_defaults(self, steps=None, sampler=None):
        """`(steps, sampler)`, each None replaced by the model's own: its
        `sampler`, and its `sampling_steps` if it has them (a distilled
        model), else the sampler's default count (`samplers.DEFAULT_STEPS`)."""
        sampler = check_sampler(self.sampler if sampler is None else sampler)
        if steps is None:
            steps = self.sampling_steps or DEFAULT_STEPS[sampler]
        return steps, sampler

    def resolve_guidance(self, guidance=None, default=0.0):
        """`guidance`, else the model's own weight, else `default` (for a
        model without one)."""
        if guidance is not None:
            return guidance
        return default if self.guidance is None else self.guidance

    def resolve_guidance_interval(self, guidance_interval=None):
        """`guidance_interval`, or the model's own where it is None; `(None,
        None)` guides every step whatever the model's own."""
        return self.guidance_interval if guidance_interval is None else guidance_interval

    def generate(
        self,
        labels=None,
        num_images=None,
        steps=None,
        sampler=None,
        guidance=None,
        seed=None,
        clip_denoised=True,
        batch_size=None,
        prompts=None,
        progress=None,
        spacing=None,
        guidance_interval=None,
    ):
        """Samples images, returned as a NumPy array in [-1, 1].

        Args:
            labels: class labels, one image each (class-conditional models).
            num_images: number of images; for a conditional model without
                `labels` (or `prompts`) they are unconditional samples (the
                null class, or the empty prompt).
            steps: sampler steps from t = 1 to t = 0 (network calls, twice
                that with guidance); None for the model's `sampling_steps`,
                else the sampler's default (see `sampling_defaults`).
            sampler: one of `samplers.SAMPLERS`: "ancestral", "ddim",
                "stochastic", "dpmpp-2m" or "dpmpp-2m-sde" (see `samplers`);
                None for the model's `sampler`.
            guidance: classifier-free guidance weight w (0 = none); None
                for the model's own (`resolve_guidance`) where there are
                `labels` or `prompts`, else 0.
            seed: integer seed; the same seed gives the same images on one
                backend. None draws a random seed.
            clip_denoised: clip the predicted clean image to [-1, 1] at each step.
            batch_size: images per compiled call (all at once by default).
            prompts: text prompts, one image each (text-conditioned models);
                tokenised on the host with the denoiser's tokenizer. The
                empty prompt `""` is the unconditional (null) prompt, which
                guidance also uses.
            progress: None, or a function called after each batch as
                `progress(done, total)`: the images generated so far and the
                number asked for (a progress bar's counts). `batch_size`
                sets how often; the images do not depend on `progress`.
            spacing: where the steps fall, one of `samplers.SPACINGS`
                ("time", "logsnr", "karras"); None for the sampler's own
                (`samplers.DEFAULT_SPACINGS`).
            guidance_interval: `(low, high)`: guide only the steps whose
                logSNR lies in it (None at an end leaves it open; `(None,
                None)` guides every step); None for the model's
                `guidance_interval`.

        Returns:
            NumPy array (N, H, W, C), float32 in [-1, 1], in the order of
            `labels` / `prompts`; (0, H, W, C) for no labels or prompts.

        Raises:
            ValueError: for a bad argument.
            NonFiniteSamples: if the samples are not finite (NaN or inf
                weights, say); a `ValueError` too.
        """
        steps, sampler = self.sampling_defaults(steps, sampler)
        spacing = check_spacing(DEFAULT_SPACINGS[sampler] if spacing is None else spacing)
        steps = check_positive_int("steps", steps)
        batch_size = check_positive_int("batch_size", batch_size, allow_none=True)
        seed = check_seed("seed", seed)
        if guidance is None:
            conditioned = labels is not None or prompts is not None
            guidance = self.resolve_guidance() if conditioned else 0.0
        condition, count = self.conditioning.from_user(labels, prompts, num_images, guidance)
        guidance = float(guidance)
        interval = check_guidance_interval(self.resolve_guidance_interval(guidance_interval))
        interval = ops.convert_to_tensor(interval, "float32")
        if seed is None:
            seed = int(np.random.randint(2**31 - 1))
        batch_size = batch_size or max(count, 1)
        images = []
        for index, start in enumerate(range(0, count, batch_size)):
            chunk = self.conditioning.take(condition, start, start + batch_size)
            size = min(batch_size, count - start)
            guided = guidance > 0 and not self.guidance_input
            function = self._generate_function(size, steps, sampler, spacing, guided, clip_denoised)
            seed_state = ops.convert_to_tensor(
                [seed, index], dtype=self.sampling_seed_generator.state.dtype
            )
            out = ops.convert_to_numpy(
                function(chunk, seed_state, ops.convert_to_tensor(guidance, "float32"), interval)
            )
            self._check_finite(out)
            images.append(out)
            if progress is not None:
                progress(start + size, count)
        if not images:
            return np.zeros((0,) + self.image_shape, "float32")
        return np.concatenate(images).astype("float32")

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "denoiser": keras.saving.serialize_keras_object(self.denoiser),
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "prediction": self.prediction,
            "loss_weighting": self.loss_weighting,
            "sigmoid_bias": self.sigmoid_bias,
            "multiscale": self.multiscale,
            "multiscale_min_size": self.multiscale_min_size,
            "label_dropout": self.label_dropout,
            "sampling_steps": self.sampling_steps,
            "sampler": self.sampler,
            "guidance": self.guidance,
            "guidance_interval": self.guidance_interval,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["denoiser"] = keras.saving.deserialize_keras_object(config["denoiser"])
        return cls(**config)


def _to_numpy(targets):
    """Targets (None, an array or list, a dict or tuple of arrays) as NumPy."""
    if targets is None:
        return None
    if isinstance(targets, (dict, tuple)):
        return keras.tree.map_structure(np.asarray, targets)
    return np.asarray(targets)


def _chain(first, rest):
    """A generator of `first`, then the rest of the generator `rest`."""
    yield first
    yield from rest
