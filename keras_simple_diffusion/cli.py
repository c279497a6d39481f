"""The `simple-diffusion` command: train, sample and evaluate.

```
simple-diffusion train                                   # digits, 4000 steps
simple-diffusion sample --checkpoint runs/latest --labels 0,1,2,3 --guidance 2 --out grid.png
simple-diffusion evaluate --checkpoint runs/latest
```

Each command has `--help`. Bad input prints one `error: ...` line and exits
with status 2; a run that fails (a diverged loss, samples that are not
finite) exits with status 1. The backend is Keras' (`KERAS_BACKEND`,
TensorFlow when unset); checkpoints written on one backend load on any other.

The arguments are parsed before Keras is imported, so that `--help` and bad
flags answer at once. The backend then starts quietly: its start-up log
lines are hidden unless `--verbose` or `KSD_VERBOSE=1`.

The options of `train` are the fields of `TrainConfig` (their help, parser,
check and group are the fields' metadata), plus one flag per architecture
option of the presets; each command's parser is built by its own function
(`add_train_parser`, ...).
"""

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time

from keras_simple_diffusion import checks
from keras_simple_diffusion.choices import SAMPLERS, SPACINGS
from keras_simple_diffusion.progress import Progress
from keras_simple_diffusion.training.commands import (
    VERBOSE_VARIABLE,
    CommandFailed,
    UsageError,
    add_config_options,
    check_writable_folder,
    fit_verbosity,
    flag_type,
    option_flag,
    start_backend,
)
from keras_simple_diffusion.training.config import (
    ARCHITECTURE_OPTIONS,
    EVALUATION_GUIDANCE,
    EVALUATION_REFERENCE_DRAWS,
    FIXED_MODEL,
    TrainConfig,
    parse_int_list,
)
from keras_simple_diffusion.training.distill import add_distill_parser

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
# Images of `sample` when neither --labels, --prompt nor --num-images says.
DEFAULT_SAMPLE_IMAGES = 16
# Output forms of `sample --out`; any other name is a folder of PNGs, except
# these image formats, which are refused rather than made into folders.
GRID_SUFFIX, ARRAY_SUFFIX = ".png", ".npz"
OTHER_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


def add_train_parser(subparsers, parents=()):
    """Adds the `train` command; returns its parser (to add more options)."""
    parser = subparsers.add_parser(
        "train",
        parents=list(parents),
        help="train a model; writes runs/<timestamp>/",
        description=(
            "Train a diffusion model. With no options: class-conditional 32x32 digits "
            "(embedded), which finishes on its own with good samples. Writes "
            "runs/<timestamp>/ (model.keras, checkpoints/, samples/*.png, log.csv, "
            "config.json) and points runs/latest at it."
        ),
    )
    groups = add_config_options(
        parser, TrainConfig, expanded={"model_options": ARCHITECTURE_OPTIONS}
    )
    output = groups["output"]
    output.add_argument("--runs-dir", default="runs", help="parent of run folders (default runs)")
    output.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an interrupted run (a run folder or runs/latest) with its saved "
        "config.json; flags given with it override the saved values that may change mid-run",
    )
    parser.set_defaults(command_function=run_train)
    return parser


def _given_settings(args):
    """`(settings, architecture)`: the `TrainConfig` fields and the
    architecture options given on the command line."""
    given = vars(args)
    names = [field.name for field in dataclasses.fields(TrainConfig) if field.metadata["flag"]]
    settings = {name: given[name] for name in names if name in given}
    architecture = {name: given[name] for name in ARCHITECTURE_OPTIONS if name in given}
    return settings, architecture


def _flag_text(value):
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return "the default" if value is None else str(value)


def _resumed_config(args, settings, architecture):
    """The saved config of `--resume RUN`, with the flags given applied.

    A flag that differs from the saved value overrides it (said once on
    stderr), unless the setting cannot change mid-run (a usage error)."""
    from keras_simple_diffusion.training import runs

    run_dir = runs.resolve_run_dir(args.resume)
    config_path = os.path.join(run_dir, runs.CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise UsageError(
            f"--resume {args.resume!r}: no {runs.CONFIG_FILE} there; not a run folder."
        )
    if os.path.isfile(os.path.join(run_dir, runs.MODEL_FILE)):
        raise UsageError(
            f"--resume {args.resume!r}: the run already finished ({runs.MODEL_FILE} exists)."
        )
    saved = TrainConfig.load(config_path)
    fields = {field.name: field for field in dataclasses.fields(TrainConfig)}
    changes = [
        (name, value, getattr(saved, name), fields[name].metadata["fixed"])
        for name, value in settings.items()
    ] + [
        (name, value, saved.model_options.get(name), FIXED_MODEL)
        for name, value in architecture.items()
    ]
    overrides = {}
    for name, value, saved_value, fixed in changes:
        if value == saved_value:
            continue
        flag = option_flag(name)
        if fixed:
            raise UsageError(
                f"--resume {args.resume!r}: {flag} cannot change mid-run ({fixed}); the run "
                f"has {_flag_text(saved_value)}."
            )
        overrides[name] = value
        print(
            f"{flag} {_flag_text(value)} overrides the saved {_flag_text(saved_value)}",
            file=sys.stderr,
        )
    return dataclasses.replace(saved, **overrides, verbose=fit_verbosity(args)), run_dir


def run_train(args):
    settings, architecture = _given_settings(args)
    if args.resume:
        config, run_dir = _resumed_config(args, settings, architecture)
    else:
        config = TrainConfig(**settings, model_options=architecture, verbose=fit_verbosity(args))
        run_dir = None
        check_writable_folder("--runs-dir", args.runs_dir)
    start_backend(args)
    import keras

    from keras_simple_diffusion.training import TrainingDiverged, runs, train

    print(f"Backend: {keras.config.backend()}", flush=True)
    start = time.monotonic()
    try:
        _, run_dir = train(config, run_dir=run_dir, runs_root=args.runs_dir)
    except TrainingDiverged as error:
        raise CommandFailed(str(error)) from None
    minutes = (time.monotonic() - start) / 60
    if run_dir is not None:  # None: a process of a multi-process run that does not write
        print(f"Saved {os.path.join(run_dir, runs.MODEL_FILE)} after {minutes:.1f} min of training")
    return 0


def add_sample_parser(subparsers, parents=()):
    """Adds the `sample` command; returns its parser."""
    parser = subparsers.add_parser(
        "sample",
        parents=list(parents),
        help="generate images from a checkpoint",
        description="Generate images from a trained model, on any backend.",
    )
    parser.add_argument(
        "--checkpoint", required=True, help="a run folder (e.g. runs/latest) or a .keras file"
    )
    conditioning = parser.add_mutually_exclusive_group()
    conditioning.add_argument(
        "--labels",
        type=flag_type("--labels", parse_int_list, _check_not_empty),
        help="class labels, one image each, e.g. 0,1,2,3",
    )
    conditioning.add_argument(
        "--prompt",
        action="append",
        dest="prompts",
        metavar="TEXT",
        help="text prompt of a text-conditioned model, one image each; "
        "repeat for more (with --num-images N: N images of it)",
    )
    parser.add_argument(
        "--num-images",
        type=flag_type("--num-images", int, checks.check_positive_int),
        help=f"number of images (default {DEFAULT_SAMPLE_IMAGES}): unconditional, or for "
        "a conditional model one per class in turn, or copies of one --prompt",
    )
    _add_sampler_options(
        parser,
        guidance_fallback=0.0,
        batch_help="images per sampling call (default: all at once, as `generate`); "
        "smaller batches use less memory and show progress more often; the images depend "
        "on it",
    )
    parser.add_argument(
        "--out",
        default="samples.png",
        help="*.png: one grid; *.npz: images array (N, H, W, C) in [-1, 1] in "
        "label order; otherwise a folder of PNGs (default %(default)s)",
    )
    parser.add_argument(
        "--columns",
        type=flag_type("--columns", int, checks.check_positive_int),
        help="images per grid row",
    )
    parser.set_defaults(command_function=run_sample)
    return parser


def _add_sampler_options(parser, guidance_fallback, batch_help):
    parser.add_argument(
        "--steps",
        type=flag_type("--steps", int, checks.check_positive_int),
        help="sampler steps (default: a distilled model's own, else the sampler's: "
        "32 for dpmpp-2m and dpmpp-2m-sde, 128 for the others; see docs/samplers.md)",
    )
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        help="default: the model's (dpmpp-2m-sde for a new model, ddim for a distilled one)",
    )
    parser.add_argument(
        "--spacing",
        choices=SPACINGS,
        help="where the steps fall: uniform in t, in logSNR, or Karras' (default: the "
        "sampler's own: logsnr for dpmpp-2m-sde, time for the others)",
    )
    parser.add_argument(
        "--guidance",
        type=flag_type(
            "--guidance", float, lambda name, value: checks.check_number(name, value, 0)
        ),
        help="classifier-free guidance weight (default: the model's own, which a run "
        f"takes from `train --guidance`; {guidance_fallback:g} for a model without one)",
    )
    parser.add_argument(
        "--guidance-interval",
        nargs=2,
        type=flag_type("--guidance-interval", parse_interval_end),
        metavar=("LOW", "HIGH"),
        help="guide only the steps with logSNR in [LOW, HIGH], e.g. -2 2.5; 'none' leaves "
        "an end open ('none none': every step) (default: the model's own, every step "
        "unless it has one; see docs/samplers.md)",
    )
    parser.add_argument(
        "--seed",
        type=flag_type("--seed", int, lambda name, value: checks.check_seed(name, value, False)),
        default=0,
        help="sampling seed; the same seed gives the same images (default %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=flag_type("--batch-size", int, checks.check_positive_int),
        help=batch_help,
    )


def parse_interval_end(text):
    """One end of `--guidance-interval`: a number, or "none" for an open end."""
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number or none; got {text!r}") from None


def _sampler_kwargs(args):
    """The `generate` keyword arguments of the options of `_add_sampler_options`."""
    return dict(
        steps=args.steps,
        sampler=args.sampler,
        spacing=args.spacing,
        guidance=args.guidance,
        guidance_interval=args.guidance_interval,
        seed=args.seed,
        batch_size=args.batch_size,
    )


def _check_not_empty(flag, values):
    if not values:
        raise ValueError(f"{flag} is empty.")
    return values


def _check_out(out):
    """Refuses an `--out` that `save_samples` would not write as the user means."""
    suffix = os.path.splitext(out)[1].lower()
    if suffix in OTHER_IMAGE_SUFFIXES:
        stem = out[: -len(suffix)]
        raise UsageError(
            f"--out {out!r}: grids are written as PNG; use {stem}{GRID_SUFFIX} (or .npz for "
            "the arrays, or a folder name for one PNG per image)."
        )
    if suffix in (GRID_SUFFIX, ARRAY_SUFFIX):
        if os.path.isdir(out):
            raise UsageError(f"--out {out!r} is a folder; name a {suffix} file.")
    else:
        check_writable_folder("--out", out)


def _sample_request(model, args):
    """`(labels, prompts, num_images)` for `generate`: the flags given, with
    the command's defaults (`DEFAULT_SAMPLE_IMAGES` images, a class model's
    classes in turn, N copies of one prompt). `generate` checks them."""
    labels, prompts, num_images = args.labels, args.prompts, args.num_images
    if prompts is not None and len(prompts) == 1 and num_images:
        prompts = prompts * num_images
    if labels is None and prompts is None:
        num_images = num_images or DEFAULT_SAMPLE_IMAGES
        if model.num_classes:
            labels = [index % model.num_classes for index in range(num_images)]
    return labels, prompts, num_images


@contextlib.contextmanager
def _failure_names(checkpoint):
    """Reports samples that are not finite as a failure of `checkpoint`."""
    from keras_simple_diffusion.diffusion import NonFiniteSamples

    try:
        yield
    except NonFiniteSamples as error:
        raise CommandFailed(f"{checkpoint}: {_one_line(error)}") from None


def run_sample(args):
    _check_out(args.out)
    start_backend(args)
    from keras_simple_diffusion.training import load_checkpoint, save_samples

    model, checkpoint = load_checkpoint(args.checkpoint)
    labels, prompts, num_images = _sample_request(model, args)
    with (
        Progress(None, "sample", unit="images", quiet=args.quiet) as progress,
        _failure_names(checkpoint),
    ):

        def show(done, total):
            progress.total = total
            progress.update(done - progress.count)

        images = model.generate(
            labels=labels,
            prompts=prompts,
            num_images=num_images,
            progress=show,
            **_sampler_kwargs(args),
        )
    columns = args.columns or (
        min(model.num_classes, 10) if labels and args.labels is None else None
    )
    save_samples(images, args.out, labels=labels, columns=columns)
    print(f"Wrote {len(images)} images from {checkpoint} to {args.out}")
    return 0


def add_evaluate_parser(subparsers, parents=()):
    """Adds the `evaluate` command; returns its parser."""
    parser = subparsers.add_parser(
        "evaluate",
        parents=list(parents),
        help="measure sample quality of a checkpoint",
        description=(
            "Generate samples and score them in the feature space of a small classifier "
            "trained (offline, cached) on the dataset's labelled images: class accuracy of "
            "the samples and their Frechet distance to real images, next to the distance "
            "between two real splits. FID/KID with InceptionV3 need --inception-weights."
        ),
    )
    parser.add_argument("--checkpoint", required=True, help="a run folder or a .keras file")
    parser.add_argument(
        "--dataset",
        help="real data to compare with (default: the run's training dataset, else digits)",
    )
    parser.add_argument("--data-dir", help="TFDS data directory")
    parser.add_argument(
        "--num-samples",
        type=flag_type("--num-samples", int, checks.check_positive_int),
        default=1000,
        help="samples to generate, balanced over classes (default %(default)s)",
    )
    parser.add_argument(
        "--max-real",
        type=flag_type("--max-real", int, checks.check_positive_int),
        default=10000,
        help="real images to read at most (default %(default)s)",
    )
    parser.add_argument(
        "--reference-draws",
        type=flag_type("--reference-draws", int, checks.check_positive_int),
        default=EVALUATION_REFERENCE_DRAWS,
        help="draws of the real sets each distance ratio averages over; 1 compares "
        "with one pair of real sets (default %(default)s)",
    )
    _add_sampler_options(
        parser,
        guidance_fallback=EVALUATION_GUIDANCE,
        batch_help="images per sampling call (default: all)",
    )
    parser.add_argument(
        "--inception-weights",
        metavar="PATH",
        help="local InceptionV3 (no top) weights file for FID/KID",
    )
    parser.add_argument(
        "--classifier-cache",
        metavar="PATH",
        help="the cached classifier .keras file (default: under "
        "$KSD_CACHE_DIR or ~/.cache/keras_simple_diffusion)",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="where to write the metrics (default: evaluation.json next to the "
        "checkpoint); report.png, samples next to real images and the metrics, goes "
        "next to it",
    )
    parser.set_defaults(command_function=run_evaluate)
    return parser


def run_evaluate(args):
    start_backend(args)
    from keras_simple_diffusion import files
    from keras_simple_diffusion.training import load_checkpoint
    from keras_simple_diffusion.training.assessment import evaluate_checkpoint

    model, checkpoint = load_checkpoint(args.checkpoint)
    json_path = args.json or os.path.join(os.path.dirname(checkpoint), "evaluation.json")
    report_path = os.path.join(os.path.dirname(os.path.abspath(json_path)), "report.png")
    with (
        Progress(None, "evaluate", unit="phases", quiet=args.quiet) as phases,
        _failure_names(checkpoint),
    ):
        metrics, report = evaluate_checkpoint(
            model,
            checkpoint,
            dataset=args.dataset,
            data_dir=args.data_dir,
            num_samples=args.num_samples,
            max_real=args.max_real,
            reference_draws=args.reference_draws,
            inception_weights=args.inception_weights,
            classifier_cache=args.classifier_cache,
            report_path=report_path,
            progress=phases.begin,
            **_sampler_kwargs(args),
        )
    files.write_json(json_path, metrics)
    print(json.dumps(metrics, indent=2))
    print(report)
    print(f"Wrote {json_path} and {report_path}")
    return 0


def _common_options():
    """The options of every command: how much it prints."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--quiet", action="store_true", help="no progress bars or lines")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help=f"show the backend's start-up log lines (also {VERBOSE_VARIABLE}=1)",
    )
    return parser


def build_parser():
    """The `simple-diffusion` argument parser with all its commands."""
    parser = argparse.ArgumentParser(
        prog="simple-diffusion",
        description=(
            "simple diffusion (Hoogeboom et al. 2023) on Keras 3: train, sample, evaluate, distill."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_common_options()]
    add_train_parser(subparsers, common)
    add_sample_parser(subparsers, common)
    add_evaluate_parser(subparsers, common)
    add_distill_parser(subparsers, common)
    return parser


def _one_line(error):
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.command_function(args)
    except CommandFailed as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
