"""`TrainConfig` and `DistillConfig`: everything that defines a training or
a distillation run, and how each setting is checked, described on the
command line and treated on resume.

Free of Keras, so that `simple-diffusion train --help` and bad flags answer
before a backend is imported. Each field's metadata (`option`) holds its help
text, its parser from command-line text and its check, which every
`TrainConfig` runs: one place for each rule, shared by the Python API, the
CLI and the `config.json` of a resumed run.
"""

import dataclasses
import functools
import json

from keras_simple_diffusion import checks, files
from keras_simple_diffusion.choices import (
    DISTILLATION_WEIGHTINGS,
    DISTRIBUTION_KINDS,
    LOSS_WEIGHTINGS,
    PRECISION_POLICIES,
    SAMPLERS,
)
from keras_simple_diffusion.data.specs import source_name

DEFAULT_MODEL = "uvit-digits"
# What the default model becomes on captioned data (the "shapes" source).
DEFAULT_TEXT_MODEL = "uvit-shapes-text"
# Named sources whose default run needs its own preset: the emoji's 64 px
# images, whose step with the shapes preset is too slow for a CPU; on
# Fashion-MNIST's 28 px a U-Net of the default's size, in the minutes of
# 8500 U-ViT steps, is closer to the test split in the classifier's
# features (FD ratio 1.4-2.2 over six runs against 2.3) and as close in
# pooled pixels (docs/results.md).
DEFAULT_SOURCE_MODELS = {"emoji": "uvit-emoji", "fashion": "unet-fashion"}
# Presets whose TensorFlow training step runs faster as a plain graph than
# with XLA, which TensorFlow otherwise trains with (`default_jit_compile`):
# the emoji presets, 1.25-1.6x at 64 px and 1.4-3x at 128 px on a 2-core
# CPU, where Fashion-MNIST's U-Net and the digits' U-ViTs at 32-128 px take
# 1.2-1.8x as long without XLA (benchmarks/results/step_time/*_jit.md).
TF_GRAPH_PRESETS = ("uvit-emoji", "uvit-emoji-128")
# Optimizer steps when a config leaves them out: the default digits run (its
# samples are still improving at 3000 steps, and 4000 fit in 11 minutes of a
# 2-core CPU), and captioned data, whose prompt adherence (the position above
# all) is still rising steeply at 4000 steps.
DEFAULT_STEPS = 4000
DEFAULT_TEXT_STEPS = 6000
# Named sources whose default run needs its own step count: the emoji's
# 64 px step takes about twice the shapes' 32 px one, and 4000 of them took
# 54 minutes on a 2-core CPU; Fashion-MNIST's U-Net takes 0.15-0.17 s a
# step, and 4800 of them took 12.7-14.1 minutes there, within its 15.
DEFAULT_SOURCE_STEPS = {"fashion": 4800, "emoji": 4000}
# The same above LARGE_IMAGE_SIZE px: the emoji's 128 px step costs about
# 3.5x its 64 px one, and 1500 of them took 72 minutes on a 2-core CPU
# without XLA (benchmarks/results/emoji128/seed1/): within 90 for a machine
# up to a quarter slower.
DEFAULT_SOURCE_LARGE_IMAGE_STEPS = {"emoji": 1500}
# The guidance weight that a run's model samples with by default (its grids,
# `sample` and `evaluate`).
DEFAULT_GUIDANCE = 1.0
# The weight `evaluate` judges a model at that was saved without one of its
# own (`sample` draws those unguided, as `generate` does).
EVALUATION_GUIDANCE = 1.0
# How many draws of the real sets `evaluate` averages each distance ratio
# over: one pair of 500 real emoji puts the real-vs-real patch distance
# anywhere from 0.13 to 0.39, with the seed alone
# (benchmarks/results/fd_reference/).
EVALUATION_REFERENCE_DRAWS = 16
# The guidance interval that a run's model samples with, by source: on
# Fashion-MNIST, guidance over the whole of the default schedule made the
# samples brighter than real clothing (FD ratio 3.3 in pooled pixels), and
# guidance only in the middle of it did not (docs/samplers.md).
DEFAULT_SOURCE_GUIDANCE_INTERVALS = {"fashion": (-2.0, 2.5)}
# Named sources whose default schedule, on images of up to
# LARGE_IMAGE_SIZE px, is interpolated (the paper's eq. 6) from `noise_d` =
# the image size over the given divisor at pure noise to the image's own
# size at the fine-detail end (docs/results.md). Fashion-MNIST, 14 to 28:
# paired by training seed (three), guided at weight 1 it put the samples
# nearer the test split in the classifier's features than the shift alone
# at 1 or 1.5, and in pooled pixels nearer than the shift at 1.5, within
# 0.16 of it at 1. Emoji, 16 to 64: on two training seeds of the default
# 4000 steps, nearer real emoji in both FD spaces and in caption retrieval
# than each of three seeds shifted to 32. The 128 px presets keep the
# shift, where the interpolation is not measured.
INTERPOLATED_SOURCES = {"fashion": 2, "emoji": 4}
# Runs on images larger than LARGE_IMAGE_SIZE px that would otherwise take
# DEFAULT_STEPS: a step of the 128 px preset costs four to five of the
# 32 px one, and 2000 of them (16 min on a 2-core CPU) give digits read
# right 88-99 % of the time, by sampler and guidance (docs/results.md).
LARGE_IMAGE_SIZE = 64
DEFAULT_LARGE_IMAGE_STEPS = 2000
JIT_COMPILE_CHOICES = {"auto": "auto", "true": True, "false": False}
# `data.folders.FITS` and `DEFAULT_MAX_PIXELS`, listed here for the command
# line without importing the data package (and TensorFlow with it).
FOLDER_FITS = ("crop", "pad")
DEFAULT_MAX_PIXELS = 178_956_970

# Reasons a resumed run keeps its saved value (see `option(fixed=...)`).
FIXED_DATA = "the model was built for the run's data"
FIXED_MODEL = "the saved weights have this architecture"
FIXED_SCHEDULE = "the noise schedule is part of the model"
FIXED_PERIODS = "the learning-rate schedule and the backups are laid out over it"
FIXED_PRECISION = "the saved optimizer state depends on it"


def parse_int_list(text):
    """Comma-separated integers, e.g. "64,128" -> (64, 128)."""
    try:
        return tuple(int(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise ValueError(f"expected comma-separated integers; got {text!r}") from None


def parse_jit_compile(text):
    """ "auto", "true" or "false" -> "auto", True or False."""
    if text.lower() not in JIT_COMPILE_CHOICES:
        raise ValueError(f"expected auto, true or false; got {text!r}")
    return JIT_COMPILE_CHOICES[text.lower()]


def optional(check):
    """`check` that also accepts None."""

    def check_optional(name, value):
        return None if value is None else check(name, value)

    return check_optional


positive_int = checks.check_positive_int
positive_number = functools.partial(checks.check_number, minimum=0.0, inclusive=(False, True))
non_negative_number = functools.partial(checks.check_number, minimum=0.0)
below_one = functools.partial(
    checks.check_number, minimum=0.0, maximum=1.0, inclusive=(True, False)
)


def check_seed(name, value):
    return checks.check_seed(name, value, allow_none=False)


def check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


def check_text(name, value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"`{name}` must be a non-empty string. Received: {name}={value!r}")
    return value


def check_jit_compile(name, value):
    if not (value == "auto" or isinstance(value, bool)):
        raise ValueError(f"`{name}` must be 'auto', True or False. Received: {name}={value!r}")
    return value


def check_background(name, value):
    """ "white", "black" or "R,G,B" text, kept as text for config.json."""
    checks.check_colour(name, value)
    return value


def choice(choices):
    return functools.partial(checks.check_choice, choices=choices)


def check_widths(name, value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not value:
        raise ValueError(f"`{name}` must be a non-empty list of widths. Received: {value!r}")
    return tuple(checks.check_positive_int(name, width) for width in value)


# Architecture keywords of the presets with a command-line flag each
# (`--widths 64,128`); a `TrainConfig.model_options` entry of one of these
# names is checked here, any other preset keyword is left to the network.
ARCHITECTURE_OPTIONS = {
    "widths": dict(
        parse=parse_int_list,
        check=check_widths,
        metavar="W1,W2,...",
        help="widths of the residual levels, e.g. 64,128",
    ),
    "transformer_width": dict(parse=int, check=positive_int, help="token width (U-ViT)"),
    "transformer_depth": dict(
        parse=int, check=positive_int, help="number of transformer blocks (U-ViT)"
    ),
    "num_heads": dict(parse=int, check=positive_int, help="attention heads"),
    "num_res_blocks": dict(parse=int, check=positive_int, help="residual blocks per level"),
    "embedding_dim": dict(
        parse=int, check=positive_int, help="width of the conditioning embedding"
    ),
    "dropout": dict(parse=float, check=below_one, help="dropout rate at low resolutions"),
}


def check_model_options(name, value):
    if not isinstance(value, dict):
        raise ValueError(f"`{name}` must be a dict of preset keywords. Received: {value!r}")
    return {
        key: ARCHITECTURE_OPTIONS[key]["check"](key, item) if key in ARCHITECTURE_OPTIONS else item
        for key, item in value.items()
    }


def option(
    default=None,
    *,
    help,
    group,
    check,
    parse=None,
    choices=None,
    metavar=None,
    fixed=None,
    flag=True,
):
    """A `TrainConfig` field and its command-line description.

    Args:
        default: the default value (a dict default is copied per instance).
        help: the flag's help text; "(default ...)" is added for a default
            other than None.
        group: the help section of the flag.
        check: `check(name, value)` returns the value (normalised) or raises
            a one-line `ValueError`; every `TrainConfig` runs it.
        parse: turns the flag's text into a value (default: the type of the
            default, else `str`); `bool` makes an on/off flag pair.
        choices: the values the flag offers.
        metavar: the flag's value in the usage text.
        fixed: why a resumed run cannot change it, or None if it can.
        flag: whether the setting has a command-line flag.
    """
    metadata = dict(
        help=help,
        group=group,
        check=check,
        parse=parse,
        choices=choices,
        metavar=metavar,
        fixed=fixed,
        flag=flag,
    )
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; saved as the run's `config.json`.

    The defaults are the embedded digits run: class-conditional 32 x 32
    digits with the "uvit-digits" preset, about ten minutes on 2 CPU cores
    (its measured quality is in the README's Results). Every value is
    checked on creation (a one-line `ValueError`).

    Args:
        dataset: a `keras_simple_diffusion.data.load_dataset` source spec
            ("digits", "shapes", "tfds:NAME[:SPLIT]", a folder, a `.npz`).
        data_dir: TFDS data directory for "tfds:" sources.
        image_size: resize the images to this size (default: the source's).
        channels: 1 or 3 to convert the images (default: the source's).
        unconditional: ignore the dataset's labels.
        background: for image folders, the colour behind transparent pixels
            and around padded images: "white", "black" or "R,G,B".
        fit: for image folders, "crop" (the centre square) or "pad" (the
            whole image on a square of the background); never stretched.
        max_pixels: for image folders, files with more pixels (width x
            height) are skipped.
        model: a preset of `keras_simple_diffusion.models.PRESETS`. None
            picks the source's own (`DEFAULT_SOURCE_MODELS`), `DEFAULT_MODEL`,
            or `DEFAULT_TEXT_MODEL` on captioned data, in its version for the
            image size (`uvit-digits-128` at 128 px).
        model_options: keyword overrides of the preset (e.g. `widths`).
        noise_d: reference resolution of the shifted cosine schedule. None
            picks half the image size, at most 64 (`resolved_noise_d`): a
            shift towards noise, which the embedded 32 px datasets train
            better with, and the paper's 64 from 128 px up; or, with
            `noise_d_high` None too, the start of the source's default
            interpolation (`INTERPOLATED_SOURCES`).
        noise_d_high: the reference resolution at the fine-detail end
            (t = 0) of an interpolated schedule that keeps `noise_d` at pure
            noise (t = 1), as in the paper's eq. 6: layout is still learnt
            at the strong shift while more steps go to the detail. Must
            exceed the resolved `noise_d`. None: the image size on the
            sources of `INTERPOLATED_SOURCES` up to LARGE_IMAGE_SIZE px when
            `noise_d` is None too, else a shifted schedule
            (`resolved_noise_d_high`).
        label_dropout: probability of the null label during training, for
            classifier-free guidance.
        loss_weighting: "eps", "v" or "sigmoid" (see
            `keras_simple_diffusion.losses`). "v" weighs the low-SNR end,
            where class and layout are decided, far more than the paper's
            "eps": on the default run the samples follow their labels
            after a few hundred steps instead of barely at all.
        multiscale: the multiscale loss on (True) or off (False); None
            leaves it to `SimpleDiffusion` (on above 32 px);
            `--multiscale` / `--no-multiscale`.
        steps: optimizer steps of the whole run. None picks `DEFAULT_STEPS`
            (4000), `DEFAULT_LARGE_IMAGE_STEPS` (2000) above 64 px,
            `DEFAULT_TEXT_STEPS` (6000) on captioned data, or the source's
            own (`DEFAULT_SOURCE_STEPS`, `DEFAULT_SOURCE_LARGE_IMAGE_STEPS`;
            see `with_default_steps`).
        batch_size: images per step.
        learning_rate: peak learning rate of AdamW (linear warm-up over
            `warmup_steps`, then cosine decay to a tenth).
        warmup_steps: learning-rate warm-up steps.
        weight_decay: AdamW weight decay.
        ema_momentum: momentum of the optimizer's weight EMA. None picks
            `1 - 10 / steps` (within [0.9, 0.9999]) so that the initial
            weights weigh e^-10 at the end; Keras' EMA has no warm-up, and
            the momentum is fixed when the train step is traced.
        seed: seed of data order, initialisation, noise and grids.
        jit_compile: passed to `Model.compile` (True or False), or "auto":
            XLA on TensorFlow (about twice as fast on the CPU) but for the
            `TF_GRAPH_PRESETS`, which train faster as a plain graph; Keras'
            own "auto" elsewhere (jit on JAX, eager on torch).
        distribution: None, "data" or "model" (see
            `keras_simple_diffusion.distribution.configure_distribution`).
        mesh: the device mesh, "BATCHxMODEL"; `batch_size` is the global
            batch. Needs `distribution`.
        precision: "float32", "bfloat16" or "float16" (with loss scaling).
        sample_every: steps between PNG sample grids (EMA weights).
        checkpoint_every: steps between `.keras` checkpoints and backups.
        sample_steps: sampler steps of the grids.
        guidance: guidance weight of the run's model (`SimpleDiffusion`'s
            `guidance`): its grids, and `sample` and `evaluate` unless told;
            None picks `DEFAULT_GUIDANCE`.
        tensorboard: write TensorBoard logs (loss, learning rate, sample
            grids, config) to the run's `tensorboard/` folder.
        verbose: verbosity of `fit` (1 = progress bar).

    Example:
    >>> config = TrainConfig(steps=1000, learning_rate=1e-3)
    """

    dataset: str = option(
        "digits",
        help="'digits', 'shapes', 'fashion[:test][:text]' (Fashion-MNIST), 'emoji[:group|:name]' "
        "(Noto Color Emoji, 64 px unless --image-size), 'tfds:NAME[:SPLIT]', a .npz file, "
        "or a FOLDER of images: each top-level subfolder with images is a class, its images "
        "found recursively beneath it (images directly in FOLDER are then ignored); a FOLDER "
        "without such subfolders trains an unconditional model. Unreadable files are skipped; "
        "the decoded images are cached under $KSD_CACHE_DIR/folders",
        group="data",
        check=check_text,
        fixed=FIXED_DATA,
    )
    data_dir: str | None = option(
        help="where a named dataset's files are: the TFDS data directory, Fashion-MNIST's IDX "
        "files, the emoji font (never downloaded)",
        group="data",
        check=optional(check_text),
    )
    image_size: int | None = option(
        help="resize images to this size (default: the data's)",
        group="data",
        check=optional(positive_int),
        parse=int,
        fixed=FIXED_DATA,
    )
    channels: int | None = option(
        help="convert images to 1 or 3 channels (default: the data's)",
        group="data",
        check=optional(choice((1, 3))),
        parse=int,
        choices=(1, 3),
        fixed=FIXED_DATA,
    )
    unconditional: bool = option(
        False,
        help="ignore the dataset's labels",
        group="data",
        check=check_bool,
        fixed=FIXED_DATA,
    )
    background: str = option(
        "white",
        help="image folders: the colour behind transparent pixels and around padded "
        "images, white, black or R,G,B",
        group="data",
        metavar="{white,black,R,G,B}",
        check=check_background,
        fixed=FIXED_DATA,
    )
    fit: str = option(
        "crop",
        help="image folders: make images square by keeping the centre square (crop) or "
        "the whole image on the background (pad); never stretched",
        group="data",
        check=choice(FOLDER_FITS),
        choices=FOLDER_FITS,
        fixed=FIXED_DATA,
    )
    max_pixels: int = option(
        DEFAULT_MAX_PIXELS,
        help="image folders: skip files with more pixels (width x height) than this, "
        "Pillow's decompression-bomb limit by default",
        group="data",
        check=positive_int,
        fixed=FIXED_DATA,
    )
    model: str | None = option(
        help=f"denoiser preset (default: {DEFAULT_MODEL}, {DEFAULT_TEXT_MODEL} on captioned "
        "data, "
        + ", ".join(f"{model} on {name}" for name, model in DEFAULT_SOURCE_MODELS.items())
        + "; sized to the images, e.g. uvit-digits-128 at 128 px)",
        group="model",
        check=optional(check_text),
        fixed=FIXED_MODEL,
    )
    model_options: dict = option(
        {},
        help="keyword overrides of the preset",
        group="model",
        check=check_model_options,
        fixed=FIXED_MODEL,
        flag=False,  # one flag per `ARCHITECTURE_OPTIONS` entry instead
    )
    noise_d: int | None = option(
        help="reference resolution of the shifted noise schedule (default: half the "
        f"image size, at most 64; up to {LARGE_IMAGE_SIZE} px the image size over "
        + ", ".join(f"{divisor} on {name}" for name, divisor in INTERPOLATED_SOURCES.items())
        + ")",
        group="model",
        check=optional(positive_int),
        parse=int,
        fixed=FIXED_SCHEDULE,
    )
    noise_d_high: int | None = option(
        help="interpolate the schedule from --noise-d at pure noise to this reference "
        "resolution at the fine-detail end (default: the image size on "
        + ", ".join(INTERPOLATED_SOURCES)
        + f" up to {LARGE_IMAGE_SIZE} px unless --noise-d is given; no interpolation elsewhere)",
        group="model",
        check=optional(positive_int),
        parse=int,
        fixed=FIXED_SCHEDULE,
    )
    label_dropout: float = option(
        0.1,
        help="null-label probability, for guidance",
        group="model",
        check=below_one,
    )
    loss_weighting: str = option(
        "v",
        help="loss weighting over noise levels",
        group="model",
        check=choice(LOSS_WEIGHTINGS),
        choices=LOSS_WEIGHTINGS,
    )
    multiscale: bool | None = option(
        help="the multiscale loss (default: on above 32 px)",
        group="model",
        check=optional(check_bool),
        parse=bool,
        fixed=FIXED_SCHEDULE,
    )
    steps: int | None = option(
        help=f"optimizer steps (default {DEFAULT_STEPS}; {DEFAULT_LARGE_IMAGE_STEPS} on images "
        f"above {LARGE_IMAGE_SIZE} px; {DEFAULT_TEXT_STEPS} on captioned data such as shapes; "
        + ", ".join(
            f"{steps} on {name}"
            + (
                f" ({DEFAULT_SOURCE_LARGE_IMAGE_STEPS[name]} above {LARGE_IMAGE_SIZE} px)"
                if name in DEFAULT_SOURCE_LARGE_IMAGE_STEPS
                else ""
            )
            for name, steps in DEFAULT_SOURCE_STEPS.items()
        )
        + ")",
        group="optimisation",
        check=optional(positive_int),
        parse=int,
        fixed=FIXED_PERIODS,
    )
    batch_size: int = option(32, help="images per step", group="optimisation", check=positive_int)
    learning_rate: float = option(
        2e-3,
        help="peak AdamW learning rate, warm-up then cosine decay",
        group="optimisation",
        check=positive_number,
    )
    warmup_steps: int = option(
        100,
        help="learning-rate warm-up steps",
        group="optimisation",
        check=functools.partial(checks.check_int, minimum=0),
    )
    weight_decay: float = option(
        1e-4, help="AdamW weight decay", group="optimisation", check=non_negative_number
    )
    ema_momentum: float | None = option(
        help="weight EMA momentum (default: 1 - 10/steps, within [0.9, 0.9999])",
        group="optimisation",
        check=optional(below_one),
        parse=float,
    )
    seed: int = option(
        0,
        help="seed of data order, initialisation and noise",
        group="optimisation",
        check=check_seed,
    )
    jit_compile: str | bool = option(
        "auto",
        help="Model.compile's jit_compile",
        group="optimisation",
        metavar="{auto,true,false}",
        check=check_jit_compile,
        parse=parse_jit_compile,
    )
    distribution: str | None = option(
        help="data parallel (JAX keras.distribution, TF MirroredStrategy / "
        "MultiWorkerMirroredStrategy, PyTorch under torchrun) or model parallel "
        "(JAX: 16x16 kernels sharded over the model axis)",
        group="scale out (see README, Scaling out)",
        check=optional(choice(DISTRIBUTION_KINDS)),
        choices=DISTRIBUTION_KINDS,
    )
    mesh: str | None = option(
        help="device mesh, e.g. 8x1 or 4x2, with --distribution "
        "(default: all devices on the batch axis)",
        metavar="BATCHxMODEL",
        group="scale out (see README, Scaling out)",
        check=optional(check_text),
    )
    precision: str = option(
        "float32",
        help="compute precision (float16 with loss scaling)",
        group="scale out (see README, Scaling out)",
        check=choice(tuple(PRECISION_POLICIES)),
        choices=tuple(PRECISION_POLICIES),
        fixed=FIXED_PRECISION,
    )
    sample_every: int = option(
        500,
        help="steps between PNG sample grids",
        group="output",
        check=positive_int,
        fixed=FIXED_PERIODS,
    )
    checkpoint_every: int = option(
        500,
        help="steps between .keras checkpoints and backups",
        group="output",
        check=positive_int,
        fixed=FIXED_PERIODS,
    )
    sample_steps: int = option(
        64, help="sampler steps of the grids", group="output", check=positive_int
    )
    sample_sampler: str | None = option(
        help="sampler of the grids (default: the model's)",
        group="output",
        check=optional(choice(SAMPLERS)),
        choices=SAMPLERS,
    )
    guidance: float | None = option(
        help="guidance weight of the run's model: its grids, and `sample` and `evaluate` "
        f"unless told (default {DEFAULT_GUIDANCE:g})",
        group="model",
        check=optional(non_negative_number),
        parse=float,
    )
    tensorboard: bool = option(
        True, help="write TensorBoard logs to the run folder", group="output", check=check_bool
    )
    verbose: int = option(
        1,
        help="verbosity of fit",
        group="output",
        check=functools.partial(checks.check_int, minimum=0, maximum=2),
        flag=False,  # the CLI's --quiet
    )

    def __post_init__(self):
        for field in dataclasses.fields(self):
            check = field.metadata["check"]
            setattr(self, field.name, check(field.name, getattr(self, field.name)))
        if self.mesh is not None and self.distribution is None:
            raise ValueError(
                f"`mesh` ({self.mesh!r}) needs `distribution` ('data' or 'model'): "
                "a mesh lays out the devices of distributed training."
            )

    def folder_options(self):
        """The `load_dataset` options that apply to image folders."""
        return dict(background=self.background, fit=self.fit, max_pixels=self.max_pixels)

    def with_default_steps(self, text, image_size):
        """This config, with `steps` filled in if None: the named source's own
        count (`DEFAULT_SOURCE_STEPS`, or `DEFAULT_SOURCE_LARGE_IMAGE_STEPS`
        on images larger than `LARGE_IMAGE_SIZE` px), else that of captioned
        data (`text=True`), of larger images, or the rest."""
        if self.steps is not None:
            return self
        large = image_size > LARGE_IMAGE_SIZE
        if text:
            steps = DEFAULT_TEXT_STEPS
        else:
            steps = DEFAULT_LARGE_IMAGE_STEPS if large else DEFAULT_STEPS
        steps = DEFAULT_SOURCE_STEPS.get(self.source_name, steps)
        if large:
            steps = DEFAULT_SOURCE_LARGE_IMAGE_STEPS.get(self.source_name, steps)
        return dataclasses.replace(self, steps=steps)

    @property
    def source_name(self):
        """The named source of `dataset`: "emoji" of "emoji:group"."""
        return source_name(self.dataset)

    @property
    def resolved_ema_momentum(self):
        if self.ema_momentum is not None:
            return self.ema_momentum
        return min(max(1.0 - 10.0 / self.steps, 0.9), 0.9999)

    @property
    def resolved_guidance(self):
        if self.guidance is not None:
            return self.guidance
        return DEFAULT_GUIDANCE

    def default_interpolation_divisor(self, image_size):
        """The divisor of `image_size` that starts the source's default
        interpolated schedule, or None where the default is a shift (a
        schedule given, another source, or a larger image)."""
        if self.noise_d is not None or self.noise_d_high is not None:
            return None
        if image_size > LARGE_IMAGE_SIZE:
            return None
        return INTERPOLATED_SOURCES.get(self.source_name)

    def resolved_noise_d(self, image_size):
        if self.noise_d is not None:
            return self.noise_d
        divisor = self.default_interpolation_divisor(image_size)
        if divisor is not None:
            return max(image_size // divisor, 1)
        return max(min(image_size // 2, 64), 1)

    def resolved_noise_d_high(self, image_size):
        if self.default_interpolation_divisor(image_size) is not None:
            return image_size
        return self.noise_d_high

    def with_resolved_schedule(self, image_size):
        """This config with `noise_d` and `noise_d_high` as trained, so that
        the run's `config.json` resumes on the same schedule when the
        package's defaults have changed since."""
        return dataclasses.replace(
            self,
            noise_d=self.resolved_noise_d(image_size),
            noise_d_high=self.resolved_noise_d_high(image_size),
        )

    def schedule_options(self, image_size):
        """The `SimpleDiffusion` schedule arguments: `noise_d`, or
        `noise_d_low` and `noise_d_high` for an interpolated schedule."""
        from keras_simple_diffusion.schedules import check_interpolation

        noise_d = self.resolved_noise_d(image_size)
        noise_d_high = self.resolved_noise_d_high(image_size)
        if noise_d_high is None:
            return {"noise_d": noise_d}
        check_interpolation(noise_d, noise_d_high, low_name="noise_d")
        return {"noise_d_low": noise_d, "noise_d_high": noise_d_high}

    def save(self, path):
        files.write_json(path, dataclasses.asdict(self))

    @classmethod
    def load(cls, path):
        """The config saved at `path`; a one-line `ValueError` names the file
        and the first unknown or bad setting."""
        try:
            with open(path) as file:
                values = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path} does not hold a training config (a JSON object).")
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = [key for key in values if key not in names]
        if unknown:
            raise ValueError(
                f"{path}: unknown setting {unknown[0]!r} (not a TrainConfig field; written by "
                "another version of keras-simple-diffusion?)."
            )
        try:
            return cls(**values)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None


DISTILL_CONFIG_FILE = "distill.json"


def _train_option(name, default=dataclasses.MISSING, **changes):
    """The option of the `TrainConfig` field `name`, for a setting that
    distillation shares with training (its help, check and parser)."""
    field = {field.name: field for field in dataclasses.fields(TrainConfig)}[name]
    default = field.default if default is dataclasses.MISSING else default
    return option(default, **{**field.metadata, **changes})


@dataclasses.dataclass
class DistillConfig:
    """Everything that defines a distillation run; saved as its `distill.json`.

    Args:
        checkpoint: the teacher: a run folder, `runs/latest` or a `.keras` file.
        steps: the distilled model's sampling steps: the teacher's count
            divided by a power of two.
        teacher_steps: the teacher's sampling steps; default its own (128
            for an undistilled model).
        guidance_range: `(low, high)` guidance weights of guided
            distillation (`ProgressiveDistillation`), or None.
        dataset: the training images (a `load_dataset` spec); default the
            teacher run's dataset, else "digits".
        data_dir: TFDS data directory.
        steps_per_round: optimizer steps of each halving round.
        batch_size: images per step.
        learning_rate: Adam's learning rate, annealed linearly to zero over
            each round.
        ema_momentum: momentum of the weight EMA; None picks
            `1 - 10 / steps_per_round` (within [0.9, 0.9999]).
        weighting: "truncated_snr" (max(SNR, 1)) or "snr_plus_one".
        seed: seed of data order, noise and grids.
        jit_compile: `Model.compile`'s jit_compile, or "auto".
        sample_every: steps between sample grids in a round.
        checkpoint_every: steps between checkpoints and backups in a round.
        guidance: guidance weight of the grids; None gives the teacher's
            own (1 for a conditional teacher without one, 0 otherwise).
        verbose: verbosity of `fit`.
    """

    checkpoint: str | None = option(
        help="the teacher: a run folder (e.g. runs/latest) or a .keras file",
        group="teacher",
        check=optional(check_text),
    )
    steps: int | None = option(
        help="sampling steps of the distilled model: the teacher's divided by a power of two",
        group="teacher",
        check=optional(positive_int),
        parse=int,
    )
    teacher_steps: int | None = option(
        help="the teacher's sampling steps (default: its own, 128 for an undistilled model)",
        group="teacher",
        check=optional(positive_int),
        parse=int,
    )
    guidance_range: tuple | None = option(
        help="guided distillation: the student takes the guidance weight as an input, "
        "trained on weights from LOW to HIGH (default: unguided)",
        group="teacher",
        check=optional(lambda name, value: tuple(float(weight) for weight in value)),
        parse=lambda text: [float(weight) for weight in text.split(",")],
        metavar="LOW,HIGH",
    )
    dataset: str | None = option(
        help="training images, as for train (default: the teacher run's dataset, else digits)",
        group="data",
        check=optional(check_text),
    )
    data_dir: str | None = _train_option("data_dir")
    steps_per_round: int = option(
        500, help="optimizer steps of each halving round", group="optimisation", check=positive_int
    )
    batch_size: int = _train_option("batch_size")
    learning_rate: float = option(
        1e-4,
        help="Adam learning rate, annealed linearly to zero over each round",
        group="optimisation",
        check=positive_number,
    )
    ema_momentum: float | None = _train_option(
        "ema_momentum",
        help="weight EMA momentum (default: 1 - 10/steps-per-round, within [0.9, 0.9999])",
    )
    weighting: str = option(
        "truncated_snr",
        help="weighting of the x error: max(SNR, 1) or SNR + 1",
        group="optimisation",
        check=choice(DISTILLATION_WEIGHTINGS),
        choices=DISTILLATION_WEIGHTINGS,
    )
    seed: int = _train_option("seed", help="seed of data order, noise and grids")
    jit_compile: str | bool = _train_option("jit_compile")
    sample_every: int = _train_option("sample_every", 250)
    checkpoint_every: int = _train_option("checkpoint_every", 250)
    guidance: float | None = option(
        help="guidance weight of the grids (default: the teacher's own, else 1 for a "
        "conditional teacher)",
        group="output",
        check=optional(non_negative_number),
        parse=float,
    )
    verbose: int = _train_option("verbose")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            check = field.metadata["check"]
            setattr(self, field.name, check(field.name, getattr(self, field.name)))

    @property
    def resolved_ema_momentum(self):
        if self.ema_momentum is not None:
            return self.ema_momentum
        return min(max(1.0 - 10.0 / self.steps_per_round, 0.9), 0.9999)

    def save(self, path):
        files.write_json(path, dataclasses.asdict(self))

    @classmethod
    def load(cls, path):
        """The config saved at `path`; a one-line `ValueError` names the file."""
        try:
            with open(path) as file:
                values = json.load(file)
            return cls(**values)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path} does not hold a distillation config: {error}") from None
