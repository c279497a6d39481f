"""The `simple-diffusion` command: train, sample and evaluate.

```
simple-diffusion train                                   # digits, 2000 steps
simple-diffusion sample --checkpoint runs/latest --labels 0,1,2,3 --guidance 2 --out grid.png
simple-diffusion evaluate --checkpoint runs/latest
```

Each command has `--help`. Bad input prints one `error: ...` line and exits
with status 2. The backend is Keras' (`KERAS_BACKEND`, TensorFlow when unset);
checkpoints written on one backend load on any other.

The parser of each command is built by its own function
(`add_train_parser`, ...), so options (distribution, precision, prompts)
can be added next to the ones they belong with.
"""

import argparse
import json
import os
import sys
import time

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


class UsageError(ValueError):
    """Bad command-line input that argparse itself cannot detect."""


def _int_list(text):
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, e.g. 0,1,2; got {text!r}"
        ) from None


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def _jit_compile(text):
    choices = {"auto": "auto", "true": True, "false": False}
    if text.lower() not in choices:
        raise argparse.ArgumentTypeError(f"expected auto, true or false; got {text!r}")
    return choices[text.lower()]


# Architecture flags: each overrides the preset keyword of the same name.
MODEL_OPTION_FLAGS = {
    "widths": dict(type=_int_list, help="widths of the residual levels, e.g. 64,128"),
    "transformer_width": dict(type=_positive_int, help="token width (U-ViT)"),
    "transformer_depth": dict(type=_positive_int, help="number of transformer blocks (U-ViT)"),
    "num_heads": dict(type=_positive_int, help="attention heads"),
    "num_res_blocks": dict(type=_positive_int, help="residual blocks per level"),
    "embedding_dim": dict(type=_positive_int, help="width of the conditioning embedding"),
    "dropout": dict(type=float, help="dropout rate at low resolutions"),
}


def add_train_parser(subparsers):
    """Adds the `train` command; returns its parser (to add more options)."""
    from keras_simple_diffusion.losses import WEIGHTINGS
    from keras_simple_diffusion.training import TrainConfig
    from keras_simple_diffusion.training.trainer import DEFAULT_STEPS, DEFAULT_TEXT_STEPS

    defaults = TrainConfig()
    parser = subparsers.add_parser(
        "train",
        help="train a model; writes runs/<timestamp>/",
        description=(
            "Train a diffusion model. With no options: class-conditional 32x32 digits "
            "(embedded), which finishes on its own with good samples. Writes "
            "runs/<timestamp>/ (model.keras, checkpoints/, samples/*.png, log.csv, "
            "config.json) and points runs/latest at it."
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default=defaults.dataset,
        help="'digits' (default), 'shapes', 'tfds:NAME[:SPLIT]', an image "
        "folder (class subfolders become labels) or a .npz file",
    )
    data.add_argument("--data-dir", help="TFDS data directory (datasets are never downloaded)")
    data.add_argument("--image-size", type=_positive_int, help="resize images to this size")
    data.add_argument(
        "--channels", type=int, choices=(1, 3), help="convert images to 1 or 3 channels"
    )
    data.add_argument("--unconditional", action="store_true", help="ignore the dataset's labels")

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model", default=defaults.model, help=f"denoiser preset (default {defaults.model})"
    )
    for name, options in MODEL_OPTION_FLAGS.items():
        model.add_argument("--" + name.replace("_", "-"), dest=name, **options)
    model.add_argument(
        "--noise-d",
        type=_positive_int,
        help="reference resolution of the shifted noise schedule "
        "(default: half the image size, at most 64)",
    )
    model.add_argument(
        "--noise-d-high",
        type=_positive_int,
        help="interpolate the schedule from --noise-d at pure noise to this "
        "reference resolution at the fine-detail end (default: no interpolation)",
    )
    model.add_argument(
        "--label-dropout",
        type=float,
        default=defaults.label_dropout,
        help="null-label probability, for guidance (default %(default)s)",
    )
    model.add_argument(
        "--loss-weighting",
        choices=WEIGHTINGS,
        default=defaults.loss_weighting,
        help="loss weighting over noise levels (default %(default)s)",
    )

    optim = parser.add_argument_group("optimisation")
    optim.add_argument(
        "--steps",
        type=_positive_int,
        default=defaults.steps,
        help=f"optimizer steps (default {DEFAULT_STEPS}; {DEFAULT_TEXT_STEPS} on "
        "captioned data such as shapes)",
    )
    optim.add_argument(
        "--batch-size", type=_positive_int, default=defaults.batch_size, help="default %(default)s"
    )
    optim.add_argument(
        "--learning-rate",
        type=float,
        default=defaults.learning_rate,
        help="peak AdamW learning rate, warm-up then cosine decay (default %(default)s)",
    )
    optim.add_argument(
        "--warmup-steps", type=int, default=defaults.warmup_steps, help="default %(default)s"
    )
    optim.add_argument(
        "--weight-decay",
        type=float,
        default=defaults.weight_decay,
        help="AdamW weight decay (default %(default)s)",
    )
    optim.add_argument(
        "--ema-momentum",
        type=float,
        help="weight EMA momentum (default: 1 - 10/steps, within [0.9, 0.9999])",
    )
    optim.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")
    optim.add_argument(
        "--jit-compile",
        type=_jit_compile,
        default=defaults.jit_compile,
        help="auto (default), true or false: Model.compile's jit_compile",
    )

    scale = parser.add_argument_group("scale out (see README, Scaling out)")
    scale.add_argument(
        "--distribution",
        choices=["data", "model"],
        help="data parallel (JAX keras.distribution, TF MirroredStrategy) or "
        "model parallel (JAX: 16x16 kernels sharded over the model axis)",
    )
    scale.add_argument(
        "--mesh",
        metavar="BATCHxMODEL",
        help="device mesh, e.g. 8x1 or 4x2 (default: all devices on the batch axis)",
    )
    scale.add_argument(
        "--precision",
        choices=["float32", "bfloat16", "float16"],
        default=defaults.precision,
        help="compute precision (float16 with loss scaling; default %(default)s)",
    )

    output = parser.add_argument_group("output")
    output.add_argument("--runs-dir", default="runs", help="parent of run folders (default runs)")
    output.add_argument(
        "--sample-every",
        type=_positive_int,
        default=defaults.sample_every,
        help="steps between PNG sample grids (default %(default)s)",
    )
    output.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=defaults.checkpoint_every,
        help="steps between .keras checkpoints and backups (default %(default)s)",
    )
    output.add_argument(
        "--sample-steps",
        type=_positive_int,
        default=defaults.sample_steps,
        help="sampler steps of the grids (default %(default)s)",
    )
    output.add_argument(
        "--guidance",
        type=float,
        default=defaults.guidance,
        help="guidance weight of the grids (default %(default)s)",
    )
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    output.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an interrupted run (a run folder or runs/latest) with its "
        "saved config.json; other training options are ignored",
    )
    parser.set_defaults(command_function=run_train)
    return parser


def _train_config(args):
    from keras_simple_diffusion.training import TrainConfig

    model_options = {
        name: getattr(args, name) for name in MODEL_OPTION_FLAGS if getattr(args, name) is not None
    }
    return TrainConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        image_size=args.image_size,
        channels=args.channels,
        model=args.model,
        model_options=model_options,
        unconditional=args.unconditional,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        weight_decay=args.weight_decay,
        ema_momentum=args.ema_momentum,
        noise_d=args.noise_d,
        noise_d_high=args.noise_d_high,
        label_dropout=args.label_dropout,
        loss_weighting=args.loss_weighting,
        sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every,
        sample_steps=args.sample_steps,
        guidance=args.guidance,
        seed=args.seed,
        jit_compile=args.jit_compile,
        distribution=args.distribution,
        mesh=args.mesh,
        precision=args.precision,
        verbose=0 if args.quiet else 1,
    )


def run_train(args):
    import keras

    from keras_simple_diffusion.training import TrainConfig, resolve_run_dir, runs, train

    if args.resume:
        run_dir = resolve_run_dir(args.resume)
        config_path = os.path.join(run_dir, runs.CONFIG_FILE)
        if not os.path.isfile(config_path):
            raise UsageError(
                f"--resume {args.resume!r}: no {runs.CONFIG_FILE} there; not a run folder."
            )
        if os.path.isfile(os.path.join(run_dir, runs.MODEL_FILE)):
            raise UsageError(
                f"--resume {args.resume!r}: the run already finished ({runs.MODEL_FILE} exists)."
            )
        config = TrainConfig.load(config_path)
    else:
        config = _train_config(args)
        run_dir = None
    print(f"Backend: {keras.config.backend()}", flush=True)
    start = time.monotonic()
    _, run_dir = train(config, run_dir=run_dir, runs_root=args.runs_dir)
    minutes = (time.monotonic() - start) / 60
    print(f"Saved {os.path.join(run_dir, runs.MODEL_FILE)} after {minutes:.1f} min of training")
    return 0


def add_sample_parser(subparsers):
    """Adds the `sample` command; returns its parser."""
    parser = subparsers.add_parser(
        "sample",
        help="generate images from a checkpoint",
        description="Generate images from a trained model, on any backend.",
    )
    parser.add_argument(
        "--checkpoint", required=True, help="a run folder (e.g. runs/latest) or a .keras file"
    )
    conditioning = parser.add_mutually_exclusive_group()
    conditioning.add_argument(
        "--labels", type=_int_list, help="class labels, one image each, e.g. 0,1,2,3"
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
        type=_positive_int,
        help="number of images (unconditional, or for a conditional model "
        "one per class in turn, or copies of one --prompt)",
    )
    _add_sampler_options(parser, guidance_default=0.0)
    parser.add_argument(
        "--out",
        default="samples.png",
        help="*.png: one grid; *.npz: images array (N, H, W, C) in [-1, 1] in "
        "label order; otherwise a folder of PNGs (default %(default)s)",
    )
    parser.add_argument("--columns", type=_positive_int, help="images per grid row")
    parser.set_defaults(command_function=run_sample)
    return parser


def _add_sampler_options(parser, guidance_default):
    parser.add_argument(
        "--steps", type=_positive_int, default=128, help="sampler steps (default %(default)s)"
    )
    parser.add_argument(
        "--sampler", choices=("ancestral", "ddim"), default="ancestral", help="default %(default)s"
    )
    parser.add_argument(
        "--guidance",
        type=float,
        default=guidance_default,
        help="classifier-free guidance weight (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="sampling seed; the same seed gives the same images (default %(default)s)",
    )
    parser.add_argument("--batch-size", type=_positive_int, help="images per sampling call")


def load_checkpoint(path):
    """Loads the `SimpleDiffusion` model that `path` (run folder or .keras) names."""
    import keras

    import keras_simple_diffusion  # noqa: F401  (registers the classes)
    from keras_simple_diffusion.training import resolve_checkpoint

    checkpoint = resolve_checkpoint(path)
    try:
        model = keras.saving.load_model(checkpoint, compile=False)
    except Exception as error:  # Any failure to read the archive is bad input.
        raise UsageError(f"Cannot load checkpoint {checkpoint!r}: {error}") from None
    return model, checkpoint


def _sample_labels(model, labels, num_images):
    """Labels to generate, or None for unconditional samples."""
    if labels is not None:
        if not model.num_classes:
            raise UsageError("--labels given but the model is unconditional; use --num-images.")
        bad = [label for label in labels if not 0 <= label < model.num_classes]
        if bad:
            raise UsageError(
                f"labels {bad} are out of range: the model has classes 0..{model.num_classes - 1}."
            )
        if not labels:
            raise UsageError("--labels is empty.")
        return labels
    num_images = num_images or 16
    if model.num_classes:
        return [index % model.num_classes for index in range(num_images)]
    return None


def _sample_prompts(model, prompts, num_images):
    """Prompts to generate from (text-conditioned models), or None."""
    text = model.text_encoder is not None
    if prompts is None:
        return None
    if not text:
        raise UsageError("--prompt given but the model is not text-conditioned; use --labels.")
    if num_images is not None:
        if len(prompts) != 1:
            raise UsageError("--num-images with --prompt needs exactly one --prompt.")
        prompts = prompts * num_images
    return prompts


def run_sample(args):
    from keras_simple_diffusion.training import save_samples

    model, checkpoint = load_checkpoint(args.checkpoint)
    text = model.text_encoder is not None
    if text and args.labels is not None:
        raise UsageError("The model is text-conditioned: use --prompt, not --labels.")
    prompts = _sample_prompts(model, args.prompts, args.num_images)
    labels = None if text else _sample_labels(model, args.labels, args.num_images)
    if args.guidance and labels is None and prompts is None:
        raise UsageError("--guidance needs --labels or --prompt (a conditional model).")
    images = model.generate(
        labels=labels,
        prompts=prompts,
        num_images=None if labels or prompts else args.num_images or 16,
        steps=args.steps,
        sampler=args.sampler,
        guidance=args.guidance,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    columns = args.columns or (
        min(model.num_classes, 10) if labels and args.labels is None else None
    )
    save_samples(images, args.out, labels=labels, columns=columns)
    print(f"Wrote {len(images)} images from {checkpoint} to {args.out}")
    return 0


def add_evaluate_parser(subparsers):
    """Adds the `evaluate` command; returns its parser."""
    parser = subparsers.add_parser(
        "evaluate",
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
        type=_positive_int,
        default=1000,
        help="samples to generate, balanced over classes (default %(default)s)",
    )
    parser.add_argument(
        "--max-real",
        type=_positive_int,
        default=10000,
        help="real images to read at most (default %(default)s)",
    )
    _add_sampler_options(parser, guidance_default=1.0)
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
        help="where to write the metrics (default: evaluation.json next to the checkpoint)",
    )
    parser.set_defaults(command_function=run_evaluate)
    return parser


def run_evaluate(args):
    from keras_simple_diffusion.training.assessment import evaluate_checkpoint

    model, checkpoint = load_checkpoint(args.checkpoint)
    metrics, report = evaluate_checkpoint(
        model,
        checkpoint,
        dataset=args.dataset,
        data_dir=args.data_dir,
        num_samples=args.num_samples,
        max_real=args.max_real,
        steps=args.steps,
        sampler=args.sampler,
        guidance=args.guidance,
        seed=args.seed,
        batch_size=args.batch_size,
        inception_weights=args.inception_weights,
        classifier_cache=args.classifier_cache,
    )
    json_path = args.json or os.path.join(os.path.dirname(checkpoint), "evaluation.json")
    with open(json_path, "w") as file:
        json.dump(metrics, file, indent=2)
    print(json.dumps(metrics, indent=2))
    print(report)
    print(f"Wrote {json_path}")
    return 0


def build_parser():
    """The `simple-diffusion` argument parser with all its commands."""
    parser = argparse.ArgumentParser(
        prog="simple-diffusion",
        description="simple diffusion (Hoogeboom et al. 2023) on Keras 3: train, sample, evaluate.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train_parser(subparsers)
    add_sample_parser(subparsers)
    add_evaluate_parser(subparsers)
    return parser


def _one_line(error):
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def main(argv=None):
    """Runs the command line; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    from keras_simple_diffusion.training import CheckpointNotFoundError, TrainingDiverged

    try:
        return args.command_function(args)
    except TrainingDiverged as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILED
    except (UsageError, CheckpointNotFoundError, ValueError, RuntimeError, OSError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
