"""`SimpleDiffusion`: the Keras model that trains a denoiser with `fit` and
samples with `generate`, on JAX, TensorFlow and PyTorch alike."""

import functools

import keras
import numpy as np
from keras import ops

from keras_simple_diffusion.backend import compile_inference, scale_loss_for_replicas
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
from keras_simple_diffusion.samplers import check_sampler, guide, sample_loop
from keras_simple_diffusion.schedules import LogSNRSchedule, alpha_sigma


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
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if image_size is not None and image_size != denoiser.image_size:
            raise ValueError(
                f"image_size={image_size} does not match the denoiser's image_size="
                f"{denoiser.image_size}."
            )
        if noise_d is not None and noise_d <= 0:
            raise ValueError(f"`noise_d` must be positive. Received: noise_d={noise_d}")
        if not 0.0 <= label_dropout < 1.0:
            raise ValueError(f"`label_dropout` must be in [0, 1). Received: {label_dropout}")
        self.denoiser = denoiser
        self.image_size = denoiser.image_size
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        self.schedule = schedule or LogSNRSchedule(
            self.image_size, noise_d=noise_d, noise_d_low=noise_d_low, noise_d_high=noise_d_high
        )
        self.prediction = check_prediction(prediction)
        self.loss_weighting = check_weighting(loss_weighting)
        self.sigmoid_bias = (
            default_sigmoid_bias(self.image_size) if sigmoid_bias is None else float(sigmoid_bias)
        )
        self.multiscale = (
            self.image_size > multiscale_min_size if multiscale is None else bool(multiscale)
        )
        self.multiscale_min_size = multiscale_min_size
        self.label_dropout = float(label_dropout)
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
    def text_encoder(self):
        """The denoiser's `TextEncoder`, or None (not text-conditioned)."""
        return getattr(self.denoiser, "text_encoder", None)

    def tokenize(self, prompts):
        """Tokenises prompts on the host: NumPy `{"token_ids", "padding_mask"}`."""
        if self.text_encoder is None:
            raise ValueError("The denoiser is not text-conditioned (no `text_encoder`).")
        return self.text_encoder.tokenize(prompts)

    def tokenize_dataset(self, dataset):
        """Maps a `tf.data` dataset of `(images, captions)` to `(images, tokens)`."""
        from keras_simple_diffusion.text import tokenize_dataset  # noqa: PLC0415

        if self.text_encoder is None:
            raise ValueError("The denoiser is not text-conditioned (no `text_encoder`).")
        return tokenize_dataset(dataset, self.text_encoder)

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

    def _check_images(self, images):
        shape = tuple(images.shape)
        if len(shape) != 4 or any(
            got is not None and got != want for got, want in zip(shape[1:], self.image_shape)
        ):
            raise ValueError(
                f"SimpleDiffusion expects images of shape (batch, {self.image_size}, "
                f"{self.image_size}, {self.denoiser.channels}) in [-1, 1]. Received "
                f"shape {shape}. Resize the data or build the denoiser for this shape."
            )
        return ops.cast(images, "float32")

    def _denoiser_inputs(self, z, logsnr, labels):
        """`labels`: int class labels, or for text conditioning a
        `(token_ids, padding_mask)` pair."""
        inputs = {"images": z, "noise_level": logsnr}
        if self.text_encoder is not None:
            inputs["token_ids"], inputs["padding_mask"] = labels
        elif self.num_classes:
            inputs["class_labels"] = labels
        return inputs

    def _text_condition(self, y, batch, training):
        """Token ids and mask from the dataset's targets, with captions
        dropped to the empty prompt (all padding) with prob. `label_dropout`."""
        if isinstance(y, dict) and "token_ids" in y:
            token_ids, padding_mask = y["token_ids"], y.get("padding_mask")
        elif isinstance(y, (tuple, list)) and len(y) == 2:
            token_ids, padding_mask = y
        else:
            raise ValueError(
                "The denoiser is text-conditioned; the dataset must yield (images, "
                '{"token_ids", "padding_mask"}). Map a dataset of (images, captions) '
                f"with `model.tokenize_dataset(dataset)`. Received targets: {y!r}"
            )
        token_ids = ops.cast(token_ids, "int32")
        pad_id = self.text_encoder.pad_id
        if padding_mask is None:
            padding_mask = ops.not_equal(token_ids, pad_id)
        padding_mask = ops.cast(padding_mask, "int32")
        if training and self.label_dropout > 0:
            drop = keras.random.uniform((batch,), seed=self.seed_generator) < self.label_dropout
            drop = ops.expand_dims(drop, 1)
            token_ids = ops.where(drop, ops.full_like(token_ids, pad_id), token_ids)
            padding_mask = ops.where(drop, ops.zeros_like(padding_mask), padding_mask)
        return token_ids, padding_mask

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        images = self._check_images(x)
        batch = ops.shape(images)[0]
        t = keras.random.uniform((batch,), seed=self.seed_generator)
        logsnr = self.schedule(t)
        alpha, sigma = (broadcast_like(v, images) for v in alpha_sigma(logsnr))
        eps = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        z = diffuse(images, eps, alpha, sigma)
        labels = None
        if self.text_encoder is not None:
            labels = self._text_condition(y, batch, training)
        elif self.num_classes:
            if y is None:
                raise ValueError(
                    "The denoiser is class-conditional (num_classes="
                    f"{self.num_classes}); the dataset must yield (images, labels)."
                )
            labels = ops.cast(y, "int32")
            if training and self.label_dropout > 0:
                drop = keras.random.uniform((batch,), seed=self.seed_generator) < self.label_dropout
                labels = ops.where(drop, self.denoiser.null_class, labels)
        output = self.denoiser(self._denoiser_inputs(z, logsnr, labels), training=training)
        error = epsilon_error(
            self.prediction, ops.cast(output, "float32"), images, eps, alpha, sigma
        )
        per_example = diffusion_loss(
            error, logsnr, self.loss_weighting, self.sigmoid_bias, self.loss_sizes
        )
        if sample_weight is not None:
            per_example = per_example * ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
        loss = ops.mean(per_example)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return scale_loss_for_replicas(loss)

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

    def _null_condition(self, labels):
        """The guidance null condition: the null class, or the empty prompt."""
        if self.text_encoder is not None:
            token_ids, padding_mask = labels
            return (
                ops.full_like(token_ids, self.text_encoder.pad_id),
                ops.zeros_like(padding_mask),
            )
        return ops.full_like(labels, self.denoiser.null_class)

    def _generate_batch(self, labels, seed_state, guidance, steps, sampler, guided, clip_denoised):
        """`labels`: class labels, or a `(token_ids, padding_mask)` pair."""
        batch = (labels[0] if isinstance(labels, (tuple, list)) else labels).shape[0]
        shape = (batch,) + self.image_shape
        z, seed_state = self._draw_normal(shape, seed_state)

        def denoise(z, logsnr):
            z_in, labels_in, copies = z, labels, 1
            if guided:
                null = self._null_condition(labels)
                if isinstance(labels, (tuple, list)):
                    labels_in = tuple(ops.concatenate([c, n]) for c, n in zip(labels, null))
                else:
                    labels_in = ops.concatenate([labels, null])
                z_in, copies = ops.concatenate([z, z]), 2
            logsnr_in = ops.full((copies * batch,), logsnr)
            output = self.denoiser(
                self._denoiser_inputs(z_in, logsnr_in, labels_in), training=False
            )
            output = ops.cast(output, "float32")
            if guided:
                conditional, unconditional = ops.split(output, 2)
                output = guide(conditional, unconditional, guidance)
            alpha, sigma = alpha_sigma(logsnr)
            return denoised(self.prediction, output, z, alpha, sigma)

        draw = functools.partial(self._draw_normal, shape)
        return sample_loop(
            denoise, z, self.schedule, steps, sampler, clip_denoised, draw, seed_state
        )

    def _generate_function(self, batch, steps, sampler, guided, clip_denoised):
        key = (batch, steps, sampler, guided, clip_denoised)
        if key not in self._generate_functions:
            step = functools.partial(
                self._generate_batch,
                steps=steps,
                sampler=sampler,
                guided=guided,
                clip_denoised=clip_denoised,
            )
            self._generate_functions[key] = compile_inference(self, step)
        return self._generate_functions[key]

    def _check_prompts(self, prompts, labels, num_images):
        """Prompts -> NumPy (token_ids, padding_mask); no prompts -> empty prompts."""
        if labels is not None:
            raise ValueError(
                "The denoiser is text-conditioned: pass `prompts=[...]`, not `labels`."
            )
        if prompts is None:
            if num_images is None:
                raise ValueError("Pass `prompts` (text-conditioned model) or `num_images`.")
            # Unconditional samples: the empty prompt.
            tokens = self.text_encoder.null_tokens(int(num_images))
        else:
            if isinstance(prompts, str):
                prompts = [prompts]
            prompts = list(prompts)
            if not all(isinstance(p, str) for p in prompts):
                raise ValueError(f"`prompts` must be a list of strings. Received: {prompts!r}")
            if num_images is not None and num_images != len(prompts):
                raise ValueError(f"num_images={num_images} does not match {len(prompts)} prompts.")
            tokens = self.text_encoder.tokenize(prompts)
        return tokens["token_ids"].astype("int32"), tokens["padding_mask"].astype("int32")

    def _check_labels(self, labels, num_images, guidance):
        if labels is None and num_images is None:
            raise ValueError("Pass `labels` (class-conditional) or `num_images`.")
        if labels is None:
            if guidance:
                raise ValueError("Classifier-free guidance needs `labels`.")
            # Unconditional samples: the null class of a conditional model.
            return np.full((int(num_images),), self.denoiser.null_class or 0, "int32")
        if not self.num_classes:
            raise ValueError(
                "`labels` were given but the denoiser is unconditional (num_classes=None)."
            )
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"`labels` must be a 1-D list of integers. Received: {labels!r}")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"Labels must be in [0, {self.num_classes}). Received labels from "
                f"{labels.min()} to {labels.max()}."
            )
        if num_images is not None and num_images != labels.size:
            raise ValueError(f"num_images={num_images} does not match {labels.size} labels.")
        return labels.astype("int32")

    def generate(
        self,
        labels=None,
        num_images=None,
        steps=128,
        sampler="ancestral",
        guidance=0.0,
        seed=None,
        clip_denoised=True,
        batch_size=None,
        prompts=None,
    ):
        """Samples images, returned as a NumPy array in [-1, 1].

        Args:
            labels: class labels, one image each (class-conditional models).
            num_images: number of images; for a conditional model without
                `labels` (or `prompts`) they are unconditional samples (the
                null class, or the empty prompt).
            steps: sampler steps from t = 1 to t = 0.
            sampler: "ancestral" or "ddim".
            guidance: classifier-free guidance weight w (0 = none).
            seed: integer seed; the same seed gives the same images on one
                backend. None draws a random seed.
            clip_denoised: clip the predicted clean image to [-1, 1] at each step.
            batch_size: images per compiled call (all at once by default).
            prompts: text prompts, one image each (text-conditioned models);
                tokenised on the host with the denoiser's tokenizer. The
                empty prompt `""` is the unconditional (null) prompt, which
                guidance also uses.

        Returns:
            NumPy array (N, H, W, C), float32 in [-1, 1], in the order of
            `labels` / `prompts`.
        """
        check_sampler(sampler)
        if int(steps) != steps or steps < 1:
            raise ValueError(f"`steps` must be a positive integer. Received: steps={steps}")
        if guidance < 0:
            raise ValueError(f"`guidance` must be >= 0. Received: guidance={guidance}")
        text = self.text_encoder is not None
        if text:
            if guidance and prompts is None:
                raise ValueError("Classifier-free guidance needs `prompts`.")
            labels = self._check_prompts(prompts, labels, num_images)
            count = len(labels[0])
        else:
            if prompts is not None:
                raise ValueError("`prompts` were given but the denoiser is not text-conditioned.")
            labels = self._check_labels(labels, num_images, guidance)
            count = len(labels)
        seed = int(np.random.randint(2**31 - 1)) if seed is None else int(seed)
        batch_size = int(batch_size or max(count, 1))
        guided = bool(guidance) and (bool(self.num_classes) or text)
        images = []
        for index, start in enumerate(range(0, count, batch_size)):
            if text:
                chunk = tuple(
                    ops.convert_to_tensor(a[start : start + batch_size], "int32") for a in labels
                )
            else:
                chunk = ops.convert_to_tensor(labels[start : start + batch_size], "int32")
            size = min(batch_size, count - start)
            function = self._generate_function(size, int(steps), sampler, guided, clip_denoised)
            seed_state = ops.convert_to_tensor(
                [seed, index], dtype=self.sampling_seed_generator.state.dtype
            )
            out = function(
                chunk,
                seed_state,
                ops.convert_to_tensor(guidance, "float32"),
            )
            images.append(ops.convert_to_numpy(out))
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
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["denoiser"] = keras.saving.deserialize_keras_object(config["denoiser"])
        return cls(**config)
