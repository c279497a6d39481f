"""`train`: one training run, from a `TrainConfig` to a run folder."""

import dataclasses
import os
import shutil
import tempfile

import keras

from keras_simple_diffusion import files
from keras_simple_diffusion.backend import default_jit_compile
from keras_simple_diffusion.data import load_dataset
from keras_simple_diffusion.diffusion import SimpleDiffusion
from keras_simple_diffusion.distribution import (
    configure_distribution,
    initialize,
    multi_process_launch,
)
from keras_simple_diffusion.models import build_denoiser, preset_config, preset_for_image_size
from keras_simple_diffusion.precision import configure_precision
from keras_simple_diffusion.training import runs
from keras_simple_diffusion.training.callbacks import (
    EMACheckpoint,
    LatestPointer,
    LossPlot,
    NaNSafeBackupAndRestore,
    RunLog,
    SampleGrid,
    epoch_length,
)
from keras_simple_diffusion.training.config import (
    DEFAULT_MODEL,
    DEFAULT_SOURCE_GUIDANCE_INTERVALS,
    DEFAULT_SOURCE_MODELS,
    DEFAULT_TEXT_MODEL,
    TF_GRAPH_PRESETS,
    TrainConfig,
)
from keras_simple_diffusion.training.tensorboard import SCALAR_EVERY, TensorBoardLog

GRID_COLUMNS = 10


def model_spec(config, image_size, text=False):
    """The preset and keyword options the run builds its denoiser from.

    The default preset (`config.model` None) is the source's own
    (`DEFAULT_SOURCE_MODELS`, without its text encoder when the run takes no
    captions), `DEFAULT_MODEL`, or `DEFAULT_TEXT_MODEL` for captions, sized
    to the images (`uvit-digits-128` at 128 px); a preset the images are too
    large for is refused (`preset_for_image_size`). Any other preset gains
    the default text encoder when trained on captions.
    """
    source_model = DEFAULT_SOURCE_MODELS.get(config.source_name)
    name = config.model or source_model or (DEFAULT_TEXT_MODEL if text else DEFAULT_MODEL)
    name = preset_for_image_size(name, image_size, adapt=config.model is None)
    options = dict(config.model_options)
    has_text_encoder = bool(preset_config(name, **options)[1].get("text_encoder"))
    if text and not has_text_encoder:
        options["text_encoder"] = "default"
    if not text and config.model is None and has_text_encoder:
        options.setdefault("text_encoder", None)
    return name, options


def with_resolved_model(config, image_size, text=False):
    """`config` with `model` and `model_options` naming what `model_spec`
    builds, so that the run's `config.json` rebuilds the same network on
    `--resume` when the package's default presets have changed since."""
    name, options = model_spec(config, image_size, text)
    return dataclasses.replace(config, model=name, model_options=options)


def is_text_conditioned(config, info):
    """Whether the run conditions on captions: captioned data, not unconditional."""
    return info.captions is not None and not config.unconditional


# The image size of a run on a named source that leaves it out: the emoji
# are drawn at 128 px, and train at 64 by default on a CPU; Fashion-MNIST
# trains at its own 28 px (fewer pixels a step than the 32 px padding).
DEFAULT_IMAGE_SIZES = {"emoji": 64, "fashion": 28}


def load_training_data(config):
    """Loads the config's dataset for training; returns `(DatasetInfo, num_classes)`.

    Captioned data (the "shapes" source) keeps its captions for a
    text-conditioned model (tokenised once the model exists); with
    `config.unconditional` labels and captions are dropped.
    """
    info = load_dataset(
        config.dataset,
        image_size=config.image_size or DEFAULT_IMAGE_SIZES.get(config.source_name),
        channels=config.channels,
        batch_size=config.batch_size,
        shuffle=True,
        seed=config.seed,
        repeat=True,
        drop_remainder=True,
        data_dir=config.data_dir,
        quiet=config.verbose == 0,
        **config.folder_options(),
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
    config = config.with_default_steps(text, image_size)
    name, options = model_spec(config, image_size, text)
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
        multiscale=config.multiscale,
        guidance=config.resolved_guidance if num_classes or text else None,
        guidance_interval=DEFAULT_SOURCE_GUIDANCE_INTERVALS.get(config.source_name),
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
        jit_compile = (
            default_jit_compile(prefer_xla=name not in TF_GRAPH_PRESETS)
            if config.jit_compile == "auto"
            else config.jit_compile
        )
    model.compile(optimizer=optimizer, jit_compile=jit_compile)
    return model


class TrainingDiverged(RuntimeError):
    """Raised when the loss diverged (NaN, or far above its earlier values);
    the last good checkpoint is kept."""


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
        `(model, run_dir)`: the trained model with its EMA weights; `run_dir`
        is None in the processes of a multi-process run that do not write.

    Raises:
        TrainingDiverged: if the loss became NaN.

    Example:
    >>> model, run_dir = train(TrainConfig(steps=1000))  # doctest: +SKIP
    """
    config = config or TrainConfig()
    if multi_process_launch():
        initialize()  # before anything touches a device
    configure_precision(config.precision)
    info, num_classes = load_training_data(config)
    text = is_text_conditioned(config, info)
    config = config.with_default_steps(text, info.image_size)
    config = with_resolved_model(config, info.image_size, text)
    config = config.with_resolved_schedule(info.image_size)
    widths = config.model_options.get("widths") or preset_config(config.model)[1].get("widths")
    context = configure_distribution(config.distribution, config.mesh, widths=widths)
    context.check_batch_size(config.batch_size)
    with context.scope():
        return _train(config, context, info, num_classes, text, run_dir, runs_root)


def _train(config, context, info, num_classes, text, run_dir, runs_root):
    jit_compile = False if context.jit_compile is False else None
    model = build_model(config, info.image_size, info.channels, num_classes, jit_compile, text)
    model = context.prepare(model)
    dataset = model.tokenize_dataset(info.dataset) if text else info.dataset
    dataset = context.shard_dataset(dataset, config.batch_size)
    period = epoch_length(config.steps, config.sample_every, config.checkpoint_every)
    if context.is_writer:
        if run_dir is None:
            run_dir = runs.new_run_dir(runs_root)
        os.makedirs(run_dir, exist_ok=True)
        config.save(os.path.join(run_dir, runs.CONFIG_FILE))
        output_dir = run_dir
    else:  # JAX, TF: a private copy (see `_scratch_copy`); torch writes nothing
        output_dir = _scratch_copy(run_dir) if context.symmetric else None
    try:
        if output_dir is None:
            run_log, callbacks = _reader_callbacks(run_dir)
        else:
            run_log, callbacks = _writer_callbacks(
                config, info, num_classes, text, output_dir, period
            )
        model.fit(
            dataset,
            epochs=config.steps // period,
            steps_per_epoch=period,
            callbacks=callbacks,
            shuffle=False,  # load_dataset shuffles
            verbose=config.verbose,
        )
        if model.stop_training:
            raise TrainingDiverged(
                f"Training diverged: {run_log.divergence or 'the loss became nan'}; training "
                f"stopped. Last good checkpoint: "
                f"{(run_dir and runs.latest_checkpoint(run_dir)) or 'none yet'}; resume with "
                f"--resume {run_dir or 'RUN'} (the backup holds the last good state), perhaps "
                "with a lower learning rate."
            )
        if output_dir is not None:
            with files.atomic_path(os.path.join(output_dir, runs.MODEL_FILE)) as temporary:
                model.save(temporary)
            runs.point_latest(output_dir)
    finally:
        if output_dir is not None and output_dir != run_dir:
            shutil.rmtree(os.path.dirname(output_dir), ignore_errors=True)
    return model, run_dir if context.is_writer else None


def _scratch_copy(run_dir):
    """A private run folder for a process of a multi-process JAX or
    TensorFlow run that is not process 0. These run every computation on
    every process alike (JAX's global arrays span them all; a variable made
    under TF's multi-worker strategy is a collective), so such a process runs
    process 0's callbacks -- checkpoints, sample grids, backups -- but writes
    here, in a temporary folder removed at the end; on `--resume` it starts
    from a copy of the run's backup and log."""
    scratch = os.path.join(tempfile.mkdtemp(prefix="keras-simple-diffusion-"), "run")
    os.makedirs(scratch)
    if run_dir is not None:
        backup = os.path.join(run_dir, runs.BACKUP_DIR)
        if os.path.isdir(backup):
            shutil.copytree(backup, os.path.join(scratch, runs.BACKUP_DIR))
        if os.path.isfile(os.path.join(run_dir, runs.LOG_FILE)):
            shutil.copy(os.path.join(run_dir, runs.LOG_FILE), scratch)
    return scratch


def _reader_callbacks(run_dir):
    """The callbacks of a process that does not write (not process 0 of a
    multi-process run): the same stops as process 0's (its logs carry the
    global loss), and on `--resume` the same restore, from process 0's run
    folder; `run_dir` is None on a fresh run (process 0 names the folder)."""
    run_log = RunLog(run_dir and os.path.join(run_dir, runs.LOG_FILE), write=False)
    callbacks = [keras.callbacks.TerminateOnNaN(), run_log]
    if run_dir is not None:
        backup_dir = os.path.join(run_dir, runs.BACKUP_DIR)
        callbacks.append(NaNSafeBackupAndRestore(backup_dir, write=False))
    return run_log, callbacks


def _writer_callbacks(config, info, num_classes, text, run_dir, period):
    """The run log and the callbacks of the process that writes the run folder."""
    grid_labels = grid_prompts = None
    if num_classes:
        columns = min(num_classes, GRID_COLUMNS)
        grid_labels = [index % num_classes for index in range(2 * columns)]
    elif text:
        grid_prompts = [str(caption) for caption in info.captions[: 2 * GRID_COLUMNS]]
    # The run log comes first: it stops training at a bad period, before
    # anything is saved. The backup comes last: once it marks a period done,
    # that period's files are on disk (a kill before it repeats the period on
    # resume, whose log rows the run log then replaces).
    run_log = RunLog(os.path.join(run_dir, runs.LOG_FILE))
    samples_dir = os.path.join(run_dir, runs.SAMPLES_DIR)
    tensorboard = []
    if config.tensorboard:
        tensorboard.append(
            TensorBoardLog(
                os.path.join(run_dir, runs.TENSORBOARD_DIR),
                every=epoch_length(period, SCALAR_EVERY),
                samples_dir=samples_dir,
                config=dataclasses.asdict(config),
            )
        )
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        run_log,
        EMACheckpoint(os.path.join(run_dir, runs.CHECKPOINTS_DIR), config.checkpoint_every),
        LatestPointer(run_dir),
        SampleGrid(
            samples_dir,
            config.sample_every,
            labels=grid_labels,
            prompts=grid_prompts,
            num_images=2 * GRID_COLUMNS,
            columns=GRID_COLUMNS,
            steps=config.sample_steps,
            sampler=config.sample_sampler,
            guidance=config.resolved_guidance,
            seed=config.seed,
        ),
        *tensorboard,
        LossPlot(
            os.path.join(run_dir, runs.LOG_FILE),
            os.path.join(run_dir, runs.LOSS_PLOT),
            config.checkpoint_every,
        ),
        NaNSafeBackupAndRestore(os.path.join(run_dir, runs.BACKUP_DIR)),
    ]
    return run_log, callbacks
