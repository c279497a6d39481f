"""What the commands of `simple-diffusion` share: their errors, flags made
from config fields, the verbosity of `fit` and a quiet backend start.

Below both the command line (`cli.py`) and the commands that live with
their training code (`training/distill.py`), so that the command line is
the top floor: nothing in the package imports it but `__main__`. Free of
Keras, like the configs, so that `--help` and bad flags answer at once.
"""

import argparse
import contextlib
import dataclasses
import logging
import os
import sys

VERBOSE_VARIABLE = "KSD_VERBOSE"
# Set (unless already set) before a backend is imported, unless verbose:
# TensorFlow's and XLA's C++ log (oneDNN, CUDA and XLA notices), gRPC's.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}
# Python loggers of the backends' start-up notices (JAX's "An NVIDIA GPU
# may be present ..."), kept to errors unless verbose.
QUIET_LOGGERS = ("jax._src.xla_bridge", "absl")
PARSE_NAMES = {int: "an integer", float: "a number", str: "text"}


class UsageError(ValueError):
    """Bad command-line input that argparse itself cannot detect."""


class CommandFailed(RuntimeError):
    """A command that could not do its work with valid input (exit status 1)."""


def flag_type(flag, parse, check=None):
    """An argparse `type`: parses the text, then runs `check(flag, value)`;
    either failure is a usage error naming the flag."""

    def convert(text):
        try:
            value = parse(text)
        except ValueError as error:
            expected = PARSE_NAMES.get(parse)
            message = f"expected {expected}; got {text!r}" if expected else str(error)
            raise argparse.ArgumentTypeError(message) from None
        try:
            return value if check is None else check(flag, value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def option_flag(name):
    """The flag of a config field: `steps_per_round` -> `--steps-per-round`."""
    return "--" + name.replace("_", "-")


def _add_config_option(group, name, default, spec):
    """Adds the flag of one `TrainConfig` field or architecture option.

    Its default is `argparse.SUPPRESS`, so that the parsed arguments hold
    exactly the flags given (a resumed run tells them from its saved ones)."""
    flag = option_flag(name)
    help_text = spec["help"]
    if isinstance(default, bool) or spec.get("parse") is bool:
        if default is not None:
            help_text += f" (default {'on' if default else 'off'})"
        group.add_argument(
            flag,
            dest=name,
            action=argparse.BooleanOptionalAction,
            default=argparse.SUPPRESS,
            help=help_text,
        )
        return
    if default is not None:
        help_text += f" (default {default})"
    parse = spec.get("parse") or (str if default is None else type(default))
    group.add_argument(
        flag,
        dest=name,
        type=flag_type(flag, parse, spec["check"]),
        choices=spec.get("choices"),
        metavar=spec.get("metavar"),
        default=argparse.SUPPRESS,
        help=help_text,
    )


def add_config_options(parser, config_class, expanded=None):
    """Adds a flag for each field of the dataclass `config_class` (a
    `TrainConfig`-like one, whose fields carry `option` metadata), in
    argument groups named by the fields; returns the groups by name.

    `expanded` maps a field to the options that stand for it, each a flag
    of its own (`model_options` becomes one flag per architecture option).
    """
    groups = {}
    for field in dataclasses.fields(config_class):
        spec = field.metadata
        if spec["group"] not in groups:
            groups[spec["group"]] = parser.add_argument_group(spec["group"])
        group = groups[spec["group"]]
        if field.name in (expanded or {}):
            for name, option in expanded[field.name].items():
                _add_config_option(group, name, None, option)
        elif spec["flag"]:
            _add_config_option(group, field.name, field.default, spec)
    return groups


def fit_verbosity(args):
    """Keras' progress bar on a terminal, a line per period elsewhere."""
    if args.quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


def check_writable_folder(flag, path):
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{flag} {path!r} exists and is not a folder; name a folder.")


@contextlib.contextmanager
def _stderr_silenced():
    """Points file descriptor 2 at /dev/null: the backends' C++ libraries
    write some lines there before any log setting applies."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def start_backend(args):
    """Imports Keras, its backend and the package (which registers its
    classes for loading), quietly unless `--verbose` or `KSD_VERBOSE=1`."""
    verbose = args.verbose or os.environ.get(VERBOSE_VARIABLE, "0") not in ("", "0")
    if verbose:
        import keras_simple_diffusion.training.trainer  # noqa: F401
    else:
        for name, value in QUIET_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        with _stderr_silenced():
            import keras_simple_diffusion.training.trainer  # noqa: F401
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
    from keras_simple_diffusion import SimpleDiffusion  # noqa: F401  (loads the package)


def tiny_train_command(steps=4, checkpoint_every=2, sample_every=2, batch_size=8):
    """The arguments of a `simple-diffusion train` that takes seconds on a
    CPU (the tiny U-ViT on 16 px digits, 2-step sample grids): the one
    spelling of the tests' runs and of scripts/kill_test.py."""
    return [
        "train",
        "--model",
        "uvit-tiny",
        "--image-size",
        "16",
        "--batch-size",
        str(batch_size),
        "--steps",
        str(steps),
        "--checkpoint-every",
        str(checkpoint_every),
        "--sample-every",
        str(sample_every),
        "--sample-steps",
        "2",
        "--quiet",
    ]
