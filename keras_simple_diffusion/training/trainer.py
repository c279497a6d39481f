"""`TrainConfig` and `train`: one training run, from a dataset spec to a run folder."""

import dataclasses
import json
import os

import keras

from keras_simple_diffusion.data import load_dataset
from keras_simple_diffusion.diffusion import SimpleDiffusion
from keras_simple_diffusion.distribution import configure_distribution, initialize
from keras_simple_diffusion.models import build_denoiser, preset_config
from keras_simple_diffusion.precision import configure_precision
from keras_simple_diffusion.training import runs
from keras_simple_diffusion.training.callbacks import (
    EMACheckpoint,
    NaNSafeBackupAndRestore,
    SampleGrid,
    epoch_length,
)

GRID_COLUMNS = 10
# Set on every host of a multi-host JAX job (see README, Scaling out).
MULTI_HOST_VARIABLES = ("KERAS_DISTRIBUTION_INITIALIZE", "KERAS_DISTRIBUTION_JOB_ADDRESSES")
DEFAULT_MODEL = "uvit-digits"
# The default run's architecture: "uvit-digits" slimmed so that the default
# `simple-diffusion train` fits 15 minutes on 2 CPU cores. Applied only to
# the default preset, under any explicit `model_options`.
DEFAULT_MODEL_OPTIONS = dict(
    widths=(32,), transformer_width=96, transformer_depth=3, embedding_dim=96
)
# What the default model becomes on captioned data (the "shapes" source).
DEFAULT_TEXT_MODEL = "uvit-shapes-text"
# Optimizer steps when a config leaves them out: the default digits run, and
# captioned data, whose prompt adherence (the position above all) is still
# rising steeply at 4000 steps (README).
DEFAULT_STEPS = 2000
DEFAULT_TEXT_STEPS = 6000


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; saved as the run's `config.json`.

    The defaults are the embedded digits run: class-conditional 32 x 32
    digits with the "uvit-digits" preset, which reaches the quality bar
    (samples classified as their label >= 95% of the time, Frechet distance
    in the offline classifier's features <= 2x real-vs-real) on 2 CPU cores.

    Args:
        dataset: a `keras_simple_diffusion.data.load_dataset` source spec
            ("digits", "shapes", "tfds:NAME[:SPLIT]", a folder, a `.npz`).
        data_dir: TFDS data directory for "tfds:" sources.
        image_size: resize the images to this size (default: the source's).
        channels: 1 or 3 to convert the images (default: the source's).
        model: a preset of `keras_simple_diffusion.models.PRESETS`.
        model_options: keyword overrides of the preset (e.g. `widths`); for
            the default preset they apply over `DEFAULT_MODEL_OPTIONS`.
        unconditional: ignore the dataset's labels.
        steps: optimizer steps of the whole run. None picks `DEFAULT_STEPS`
            (2000), or `DEFAULT_TEXT_STEPS` (6000) on captioned data (see
            `with_default_steps`).
        batch_size: images per step.
        learning_rate: peak learning rate of AdamW (linear warm-up over
            `warmup_steps`, then cosine decay to a tenth).
        warmup_steps: learning-rate warm-up steps.
        weight_decay: AdamW weight decay.
        ema_momentum: momentum of the optimizer's weight EMA. None picks
            `1 - 10 / steps` (within [0.9, 0.9999]) so that the initial
            weights weigh e^-10 at the end; Keras' EMA has no warm-up, and
            the momentum is fixed when the train step is traced.
        noise_d: reference resolution of the shifted cosine schedule. None
            picks half the image size, at most 64 (`resolved_noise_d`): a
            shift towards noise, which the embedded 32 px datasets train
            better with, and the paper's 64 from 128 px up.
        noise_d_high: None (a shifted schedule), or the reference
            resolution at the fine-detail end (t = 0) of an interpolated
            schedule that keeps `noise_d` at pure noise (t = 1), as in the
            paper's eq. 6: layout is still learnt at the strong shift while
            more steps go to the detail. Must exceed the resolved `noise_d`.
        label_dropout: probability of the null label during training, for
            classifier-free guidance.
        loss_weighting: "eps", "v" or "sigmoid" (see
            `keras_simple_diffusion.losses`). "v" weighs the low-SNR end,
            where class and layout are decided, far more than the paper's
            "eps": on the default run the samples follow their labels
            after a few hundred steps instead of barely at all.
        sample_every: steps between PNG sample grids (EMA weights).
        checkpoint_every: steps between `.keras` checkpoints and backups.
        sample_steps: sampler steps of the grids.
        guidance: guidance weight of the grids.
        seed: seed of data order, initialisation, noise and grids.
        jit_compile: passed to `Model.compile` (True or False), or "auto":
            XLA on TensorFlow (about twice as fast on the CPU), Keras' own
            "auto" elsewhere (jit on JAX, eager on torch).
        distribution: None, "data" or "model" (see
            `keras_simple_diffusion.distribution.configure_distribution`).
        mesh: the device mesh, "BATCHxMODEL"; `batch_size` is the global batch.
        precision: "float32", "bfloat16" or "float16" (with loss scaling).
        verbose: verbosity of `fit` (1 = progress bar).
    """

    dataset: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None
    channels: int | None = None
    model: str = DEFAULT_MODEL
    model_options: dict = dataclasses.field(default_factory=dict)
    unconditional: bool = False
    steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    ema_momentum: float | None = None
    noise_d: int | None = None
    noise_d_high: int | None = None
    label_dropout: float = 0.1
    loss_weighting: str = "v"
    sample_every: int = 500
    checkpoint_every: int = 500
    sample_steps: int = 64
    guidance: float = 1.0
    seed: int = 0
    jit_compile: str | bool = "auto"
    distribution: str | None = None
    mesh: str | None = None
    precision: str = "float32"
    verbose: int = 1

    def __post_init__(self):
        optional = ("steps", "noise_d", "noise_d_high")
        for name in optional + ("batch_size", "sample_every", "checkpoint_every", "sample_steps"):
            value = getattr(self, name)
            if name in optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {value!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be positive. Received: {self.learning_rate}")
        if self.ema_momentum is not None and not 0.0 <= self.ema_momentum < 1.0:
            raise ValueError(f"`ema_momentum` must be in [0, 1). Received: {self.ema_momentum}")

    @property
    def resolved_jit_compile(self):
        if self.jit_compile == "auto" and keras.config.backend() == "tensorflow":
            return True
        return self.jit_compile

    def with_default_steps(self, text):
        """This config, with `steps` filled in if None: for captioned data
        (`text=True`) or the rest."""
        if self.steps is not None:
            return self
        return dataclasses.replace(self, steps=DEFAULT_TEXT_STEPS if text else DEFAULT_STEPS)

    @property
    def resolved_ema_momentum(self):
        if self.ema_momentum is not None:
            return self.ema_momentum
        return min(max(1.0 - 10.0 / self.steps, 0.9), 0.9999)

    def resolved_noise_d(self, image_size):
        if self.noise_d is not None:
            return self.noise_d
        return max(min(image_size // 2, 64), 1)

    def schedule_options(self, image_size):
        """The `SimpleDiffusion` schedule arguments: `noise_d`, or
        `noise_d_low` and `noise_d_high` for an interpolated schedule."""
        noise_d = self.resolved_noise_d(image_size)
        if self.noise_d_high is None:
            return {"noise_d": noise_d}
        if self.noise_d_high <= noise_d:
            raise ValueError(
                f"`noise_d_high` ({self.noise_d_high}) must exceed `noise_d` ({noise_d}, the "
                "reference resolution at pure noise of the interpolated schedule)."
            )
        return {"noise_d_low": noise_d, "noise_d_high": self.noise_d_high}

    def save(self, path):
        with open(path, "w") as file:
            json.dump(dataclasses.asdict(self), file, indent=2)

    @classmethod
    def load(cls, path):
        with open(path) as file:
            return cls(**json.load(file))


def model_spec(config, text=False):
    """The preset and keyword options the run builds its denoiser from.

    The default preset is slimmed by `DEFAULT_MODEL_OPTIONS` for class
    labels, and replaced by `DEFAULT_TEXT_MODEL` for captions; any other
    preset gains the default text encoder when trained on captions.
    """
    if config.model != DEFAULT_MODEL:
        name, defaults = config.model, {}
    elif text:
        name, defaults = DEFAULT_TEXT_MODEL, {}
    else:
        name, defaults = DEFAULT_MODEL, DEFAULT_MODEL_OPTIONS
    options = {**defaults, **config.model_options}
    if text and not preset_config(name, **options)[1].get("text_encoder"):
        options["text_encoder"] = "default"
    return name, options


def is_text_conditioned(config, info):
    """Whether the run conditions on captions: captioned data, not unconditional."""
    return info.captions is not None and not config.unconditional


def load_training_data(config):
    """Loads the config's dataset for training; returns `(DatasetInfo, num_classes)`.

    Captioned data (the "shapes" source) keeps its captions for a
    text-conditioned model (tokenised once the model exists); with
    `config.unconditional` labels and captions are dropped.
    """
    info = load_dataset(
        config.dataset,
        image_size=config.image_size,
        channels=config.channels,
        batch_size=config.batch_size,
        shuffle=True,
        seed=config.seed,
        repeat=True,
        drop_remainder=True,
        data_dir=config.data_dir,
    )
    num_classes = None if config.unconditional else info.num_classes
    # Targets the model does not condition on (no classes, not captions) are dropped.
    text = is_text_conditioned(config, info)
    if num_classes is None and not text and isinstance(info.dataset.element_spec, tuple):
        info.dataset = info.dataset.map(lambda images, _: images)
    return info, num_classes


def build_model(config, image_size, channels, num_classes, jit_compile=None, text=False):
    """Builds and compiles the `SimpleDiffusion` model of a config.

    `jit_compile` overrides the config's (a distribution may rule XLA out);
    `text` builds a text-conditioned denoiser (see `model_spec`)."""
    config = config.with_default_steps(text)
    name, options = model_spec(config, text)
    options.update(image_size=image_size, channels=channels, num_classes=num_classes)
    try:
        denoiser = build_denoiser(name, **options)
    except TypeError as error:  # an option the preset's class does not take
        raise ValueError(f"Model {name!r} rejects its options: {error}") from None
    model = SimpleDiffusion(
        denoiser,
        **config.schedule_options(image_size),
        label_dropout=config.label_dropout,
        loss_weighting=config.loss_weighting,
        seed=config.seed,
    )
    decay_steps = max(config.steps - config.warmup_steps, 1)
    learning_rate = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps,
        alpha=0.1,
        warmup_target=config.learning_rate,
        warmup_steps=min(config.warmup_steps, config.steps),
    )
    optimizer = keras.optimizers.AdamW(
        learning_rate,
        weight_decay=config.weight_decay,
        global_clipnorm=1.0,
        use_ema=True,
        ema_momentum=config.resolved_ema_momentum,
    )
    if jit_compile is None:
        jit_compile = config.resolved_jit_compile
    model.compile(optimizer=optimizer, jit_compile=jit_compile)
    return model


class TrainingDiverged(RuntimeError):
    """Raised when the loss became NaN; the last good checkpoint is kept."""


def train(config=None, run_dir=None, runs_root="runs"):
    """Trains a model as `config` says, writing a run folder (see `runs`).

    An interrupted run (killed, preempted) continues where its last backup
    left off when `train` is called again with the same `run_dir`: the
    weights, optimizer state (step count, moments, EMA) and noise generator
    state are restored by `keras.callbacks.BackupAndRestore`. One "epoch" of
    the progress bar is a period of `gcd(steps, sample_every,
    checkpoint_every)` steps, the granularity of backups.

    Args:
        config: a `TrainConfig` (defaults to the embedded digits run).
        run_dir: the run folder; None creates `runs_root/<timestamp>`. An
            existing folder with a backup is resumed.
        runs_root: parent of new run folders, where `latest` points.

    Returns:
        `(model, run_dir)`: the trained model with its EMA weights.

    Raises:
        TrainingDiverged: if the loss became NaN.

    Example:
    >>> model, run_dir = train(TrainConfig(steps=1000))  # doctest: +SKIP
    """
    config = config or TrainConfig()
    if any(os.environ.get(name) for name in MULTI_HOST_VARIABLES):
        initialize()  # multi-host JAX: before anything touches a device
    configure_precision(config.precision)
    info, num_classes = load_training_data(config)
    text = is_text_conditioned(config, info)
    config = config.with_default_steps(text)
    name, options = model_spec(config, text)
    widths = options.get("widths") or preset_config(name)[1].get("widths")
    context = configure_distribution(config.distribution, config.mesh, widths=widths)
    context.check_batch_size(config.batch_size)
    with context.scope():
        return _train(config, context, info, num_classes, text, run_dir, runs_root)


def _train(config, context, info, num_classes, text, run_dir, runs_root):
    jit_compile = False if context.jit_compile is False else None
    model = build_model(config, info.image_size, info.channels, num_classes, jit_compile, text)
    model = context.prepare(model)
    dataset = model.tokenize_dataset(info.dataset) if text else info.dataset

    if run_dir is None:
        run_dir = runs.new_run_dir(runs_root)
        runs.point_latest(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    config.save(os.path.join(run_dir, runs.CONFIG_FILE))

    period = epoch_length(config.steps, config.sample_every, config.checkpoint_every)
    grid_labels = grid_prompts = None
    if num_classes:
        columns = min(num_classes, GRID_COLUMNS)
        grid_labels = [index % num_classes for index in range(2 * columns)]
    elif text:
        grid_prompts = [str(caption) for caption in info.captions[: 2 * GRID_COLUMNS]]
    # The backup comes last: once it marks a period done, that period's log
    # line, checkpoint and grid are on disk (a kill before it repeats the
    # period on resume, which at worst logs it twice).
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(os.path.join(run_dir, runs.LOG_FILE), append=True),
        EMACheckpoint(os.path.join(run_dir, runs.CHECKPOINTS_DIR), config.checkpoint_every),
        SampleGrid(
            os.path.join(run_dir, runs.SAMPLES_DIR),
            config.sample_every,
            labels=grid_labels,
            prompts=grid_prompts,
            num_images=2 * GRID_COLUMNS,
            columns=GRID_COLUMNS,
            steps=config.sample_steps,
            guidance=config.guidance,
            seed=config.seed,
        ),
        NaNSafeBackupAndRestore(os.path.join(run_dir, runs.BACKUP_DIR)),
    ]
    model.fit(
        dataset,
        epochs=config.steps // period,
        steps_per_epoch=period,
        callbacks=callbacks,
        shuffle=False,  # load_dataset shuffles
        verbose=config.verbose,
    )
    if model.stop_training:
        step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        raise TrainingDiverged(
            f"The loss became NaN near step {step}; training "
            f"stopped. Last good checkpoint: {runs.latest_checkpoint(run_dir)}; resume with "
            f"--resume {run_dir} (the backup holds the last good state), perhaps with a lower "
            "learning rate."
        )
    model.save(os.path.join(run_dir, runs.MODEL_FILE))
    return model, run_dir
