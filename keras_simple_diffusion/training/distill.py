"""`simple-diffusion distill`: progressive distillation of a trained model
into a few-step sampler, as a run folder.

```
simple-diffusion distill --checkpoint runs/latest --steps 8
```

halves the teacher's sampling steps (128 for an undistilled model) round
after round down to 8, each round a `ProgressiveDistillation` trained with
`fit`. The run folder:

```
runs/20250101-130000/
  distill.json             the DistillConfig, to resume or inspect the run
  teacher.keras            the model distilled (a copy, so the run stands alone)
  model.keras              the student of the last finished round (EMA weights)
  round_1_64_steps/        one folder per round, like a training run's:
    log.csv, loss.png      per-period loss
    checkpoints/           step_XXXXXX.keras (EMA; the whole distillation state)
    samples/               step_XXXXXX.png grids of the student (DDIM, its steps)
    backup/                the training state to resume from
    model.keras            the round's student, a plain SimpleDiffusion
  round_2_32_steps/ ...
```

`model.keras` is an ordinary `SimpleDiffusion` whose `generate()` defaults
to its distilled step count and DDIM, so `sample` and `evaluate` work on
it; `runs/latest` points at the run once the first round has finished.

Options are the fields of `DistillConfig` (in `training/config.py`), as
`train`'s are `TrainConfig`'s. This
module imports no backend until a command runs.
"""

import dataclasses
import os
import time

from keras_simple_diffusion.training.commands import (
    CommandFailed,
    UsageError,
    add_config_options,
    check_writable_folder,
    fit_verbosity,
    option_flag,
    start_backend,
)
from keras_simple_diffusion.training.config import (
    DISTILL_CONFIG_FILE,
    DistillConfig,
    TrainConfig,
)

TEACHER_FILE = "teacher.keras"


def round_dir(run_dir, index, plan):
    """The folder of round `index` (from 1) of a `distillation_plan`."""
    teacher_steps, halve = plan[index - 1]
    student_steps = teacher_steps // 2 if halve else teacher_steps
    return os.path.join(run_dir, f"round_{index}_{student_steps}_steps")


def _training_data(config, teacher):
    """The repeating, shuffled `tf.data` batches of the teacher's kind:
    images with labels, tokens, or alone. Loaded as `train` loads them."""
    from keras_simple_diffusion.training.assessment import run_dataset, run_folder_options
    from keras_simple_diffusion.training.trainer import load_training_data

    conditional = teacher.conditioning.conditional
    # The teacher's own data is read as its run read it (an image folder's
    # background and fit).
    same_data = run_dataset(config.checkpoint)[0] == config.dataset
    info, _ = load_training_data(
        TrainConfig(
            **(run_folder_options(config.checkpoint) if same_data else {}),
            dataset=config.dataset,
            data_dir=config.data_dir,
            image_size=teacher.image_size,
            channels=teacher.denoiser.channels,
            unconditional=not conditional,
            batch_size=config.batch_size,
            seed=config.seed,
        )
    )
    dataset = info.dataset
    if teacher.text_encoder is not None:
        if info.captions is None:
            raise ValueError(
                f"The teacher is text-conditioned but dataset {config.dataset!r} has no captions."
            )
        dataset = teacher.tokenize_dataset(dataset)
    return dataset, info


def _grid_conditions(teacher, info):
    """`(labels, prompts)` of the sample grids, as `train` draws them."""
    from keras_simple_diffusion.training.trainer import GRID_COLUMNS

    if teacher.num_classes:
        columns = min(teacher.num_classes, GRID_COLUMNS)
        return [index % teacher.num_classes for index in range(2 * columns)], None
    if teacher.text_encoder is not None:
        return None, [str(caption) for caption in info.captions[: 2 * GRID_COLUMNS]]
    return None, None


def _start(config, runs_root):
    """A new run: the teacher, its step counts and the folder, checked first."""
    from keras_simple_diffusion.distillation import (
        ProgressiveDistillation,
        check_guidance_range,
        teacher_step_count,
    )
    from keras_simple_diffusion.training import runs
    from keras_simple_diffusion.training.assessment import run_dataset

    if config.checkpoint is None or config.steps is None:
        raise ValueError("distill needs --checkpoint (the teacher) and --steps (the target).")
    teacher, checkpoint = runs.load_checkpoint(config.checkpoint)
    if isinstance(teacher, ProgressiveDistillation):
        teacher = teacher.distilled_model()
    if config.guidance and not teacher.conditioning.conditional:
        raise ValueError(
            f"--guidance {config.guidance:g} needs a conditional teacher; this one is "
            "unconditional."
        )
    if config.guidance_range is not None:
        check_guidance_range(config.guidance_range)
        if not teacher.conditioning.conditional:
            raise ValueError(
                "--guidance-range needs a conditional teacher; this one is unconditional."
            )
    source, data_dir = (config.dataset, config.data_dir)
    if source is None:
        source, data_dir = run_dataset(checkpoint)
    config = dataclasses.replace(
        config,
        # `runs/latest` moves on; the config names the file the teacher came from.
        checkpoint=os.path.realpath(checkpoint),
        teacher_steps=config.teacher_steps or teacher_step_count(teacher),
        dataset=source or "digits",
        data_dir=data_dir,
    )
    return config, teacher


def distill_run(config, run_dir=None, runs_root="runs"):
    """Runs (or resumes) a distillation run; see the module docstring.

    Args:
        config: a `DistillConfig`; when resuming, only its `verbose` is
            used (the run's `distill.json` holds the rest).
        run_dir: a run folder to resume; None starts a new one under `runs_root`.
        runs_root: parent of new run folders, where `latest` points.

    Returns:
        `(model, run_dir)`: the distilled `SimpleDiffusion` and its folder.

    Raises:
        TrainingDiverged: when a round's loss diverged; `--resume` continues
            from the last good state.
    """
    import keras

    from keras_simple_diffusion.backend import default_jit_compile
    from keras_simple_diffusion.distillation import (
        DistillationStopped,
        default_optimizer,
        distill,
        distillation_plan,
    )
    from keras_simple_diffusion.training import runs
    from keras_simple_diffusion.training.callbacks import (
        EMACheckpoint,
        LossPlot,
        NaNSafeBackupAndRestore,
        RunLog,
        SampleGrid,
        epoch_length,
    )
    from keras_simple_diffusion.training.trainer import GRID_COLUMNS, TrainingDiverged

    if run_dir is None:
        config, teacher = _start(config, runs_root)
    else:
        verbose = config.verbose
        config = DistillConfig.load(os.path.join(run_dir, DISTILL_CONFIG_FILE))
        config = dataclasses.replace(config, verbose=verbose)
        teacher, _ = runs.load_checkpoint(os.path.join(run_dir, TEACHER_FILE))
    plan = distillation_plan(
        teacher,
        config.steps,
        teacher_steps=config.teacher_steps,
        guidance_range=config.guidance_range,
    )
    dataset, info = _training_data(config, teacher)
    if run_dir is None:
        run_dir = runs.new_run_dir(runs_root)
        config.save(os.path.join(run_dir, DISTILL_CONFIG_FILE))
        teacher.save(os.path.join(run_dir, TEACHER_FILE))
    # Finished rounds are skipped: the last one's student is the teacher.
    first_round = 1
    for index in range(1, len(plan) + 1):
        student_path = os.path.join(round_dir(run_dir, index, plan), runs.MODEL_FILE)
        if not os.path.isfile(student_path):
            break
        teacher, _ = runs.load_checkpoint(student_path)
        first_round = index + 1
    if first_round > len(plan):
        return teacher, run_dir

    labels, prompts = _grid_conditions(teacher, info)
    guidance = teacher.resolve_guidance(
        config.guidance, default=1.0 if teacher.conditioning.conditional else 0.0
    )
    period = epoch_length(config.steps_per_round, config.sample_every, config.checkpoint_every)
    run_logs = {}

    def folder_of(distiller):
        return round_dir(run_dir, plan.index((distiller.teacher_steps, distiller.halve)) + 1, plan)

    def callbacks(distiller):
        folder = folder_of(distiller)
        run_logs[folder] = RunLog(os.path.join(folder, runs.LOG_FILE))
        return [
            keras.callbacks.TerminateOnNaN(),
            run_logs[folder],
            EMACheckpoint(os.path.join(folder, runs.CHECKPOINTS_DIR), config.checkpoint_every),
            SampleGrid(
                os.path.join(folder, runs.SAMPLES_DIR),
                config.sample_every,
                labels=labels,
                prompts=prompts,
                num_images=2 * GRID_COLUMNS,
                columns=GRID_COLUMNS,
                steps=distiller.student_steps,
                guidance=guidance,
                seed=config.seed,
            ),
            LossPlot(
                os.path.join(folder, runs.LOG_FILE),
                os.path.join(folder, runs.LOSS_PLOT),
                config.checkpoint_every,
            ),
            NaNSafeBackupAndRestore(os.path.join(folder, runs.BACKUP_DIR)),
        ]

    def save_student(distiller, student):
        student.save(os.path.join(folder_of(distiller), runs.MODEL_FILE))
        student.save(os.path.join(run_dir, runs.MODEL_FILE))
        runs.point_latest(run_dir)

    jit_compile = default_jit_compile() if config.jit_compile == "auto" else config.jit_compile
    try:
        student = distill(
            teacher,
            dataset,
            target_steps=config.steps,
            teacher_steps=plan[first_round - 1][0],
            steps_per_round=config.steps_per_round,
            steps_per_epoch=period,
            weighting=config.weighting,
            guidance_range=config.guidance_range,
            optimizer=lambda _: default_optimizer(
                config.steps_per_round,
                config.learning_rate,
                use_ema=True,
                ema_momentum=config.resolved_ema_momentum,
            ),
            callbacks=callbacks,
            on_round_end=save_student,
            jit_compile=jit_compile,
            seed=config.seed,
            shuffle=False,  # the dataset is shuffled
            verbose=config.verbose,
        )
    except DistillationStopped as error:
        diverged = [log.divergence for log in run_logs.values() if log.divergence]
        raise TrainingDiverged(
            f"{error} Training diverged: {diverged[-1] if diverged else 'the loss became nan'}. "
            f"Resume with --resume {run_dir} (the backup holds the last good state)."
        ) from None
    return student, run_dir


def add_distill_parser(subparsers, parents=()):
    """Adds the `distill` command; returns its parser."""
    parser = subparsers.add_parser(
        "distill",
        parents=list(parents),
        help="distil a model into a few-step sampler; writes runs/<timestamp>/",
        description=(
            "Progressive distillation (Salimans & Ho 2022): halve the teacher's sampling "
            "steps round after round, each student trained to match two DDIM steps of its "
            "teacher with one. Writes runs/<timestamp>/ (model.keras, one folder per round "
            "with checkpoints, sample grids and log) and points runs/latest at it. The "
            "result samples with `sample` and `evaluate` at its own step count."
        ),
    )
    groups = add_config_options(parser, DistillConfig)
    output = groups["output"]
    output.add_argument("--runs-dir", default="runs", help="parent of run folders (default runs)")
    output.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an interrupted distillation run (a run folder or runs/latest) with "
        "its saved distill.json",
    )
    parser.set_defaults(command_function=run_distill)
    return parser


def run_distill(args):
    """The `distill` command: checks the options, then `distill_run`."""
    given = vars(args)
    settings = {
        field.name: given[field.name]
        for field in dataclasses.fields(DistillConfig)
        if field.metadata["flag"] and field.name in given
    }
    run_dir = None
    if args.resume:
        from keras_simple_diffusion.training import runs

        if settings:
            raise UsageError(
                f"--resume takes no other distillation options; the run's {DISTILL_CONFIG_FILE} "
                f"holds them (given: {', '.join(option_flag(name) for name in settings)})."
            )
        run_dir = runs.resolve_run_dir(args.resume)
        if not os.path.isfile(os.path.join(run_dir, DISTILL_CONFIG_FILE)):
            raise UsageError(
                f"--resume {args.resume!r}: no {DISTILL_CONFIG_FILE} there; not a "
                "distillation run folder."
            )
    else:
        check_writable_folder("--runs-dir", args.runs_dir)
    config = DistillConfig(**settings, verbose=fit_verbosity(args))
    start_backend(args)
    import keras

    from keras_simple_diffusion.training import TrainingDiverged, runs

    print(f"Backend: {keras.config.backend()}", flush=True)
    start = time.monotonic()
    try:
        model, run_dir = distill_run(config, run_dir=run_dir, runs_root=args.runs_dir)
    except TrainingDiverged as error:
        raise CommandFailed(str(error)) from None
    minutes = (time.monotonic() - start) / 60
    print(
        f"Saved {os.path.join(run_dir, runs.MODEL_FILE)} ({model.sampling_steps} DDIM steps) "
        f"after {minutes:.1f} min of distillation"
    )
    return 0
