"""Each rule in one place: the option names that config, command line and
the modules acting on them share, and the tests' and scripts' tiny run."""

import ast
import dataclasses
import pathlib

import keras
import pytest

from keras_simple_diffusion import choices, distillation, distribution, losses, precision
from keras_simple_diffusion.training.commands import tiny_train_command
from keras_simple_diffusion.training.config import DistillConfig, TrainConfig

REPOSITORY = pathlib.Path(__file__).parents[2]


def option_of(config_class, name):
    return {field.name: field for field in dataclasses.fields(config_class)}[name].metadata


@pytest.mark.parametrize(
    "config_class,field,names,check",
    [
        (TrainConfig, "loss_weighting", choices.LOSS_WEIGHTINGS, losses.check_weighting),
        (
            DistillConfig,
            "weighting",
            choices.DISTILLATION_WEIGHTINGS,
            distillation.check_distillation_weighting,
        ),
        (TrainConfig, "precision", tuple(choices.PRECISION_POLICIES), precision.policy_name),
    ],
)
def test_the_command_line_offers_what_the_modules_accept(config_class, field, names, check):
    option = option_of(config_class, field)
    assert option["choices"] == names
    for name in names:
        check(name)
        option["check"](field, name)
    for refuse in (check, lambda name: option["check"](field, name)):
        with pytest.raises(ValueError, match="no-such-name"):
            refuse("no-such-name")


def test_the_names_are_the_modules_own():
    assert losses.WEIGHTINGS is choices.LOSS_WEIGHTINGS
    assert distillation.DISTILLATION_WEIGHTINGS is choices.DISTILLATION_WEIGHTINGS
    assert option_of(TrainConfig, "distribution")["choices"] is choices.DISTRIBUTION_KINDS
    with pytest.raises(ValueError, match="--distribution must be one of"):
        distribution.configure_distribution("no-such-kind")
    for name, policy in choices.PRECISION_POLICIES.items():
        assert precision.policy_name(name) == keras.DTypePolicy(policy).name


def _spelled_train_commands(path):
    """Lines of list literals in `path` that spell a tiny `train` command."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.List):
            texts = {item.value for item in node.elts if isinstance(item, ast.Constant)}
            if {"train", "--model", "uvit-tiny", "--steps"} <= texts:
                lines.append(node.lineno)
    return lines


def test_tests_and_scripts_share_one_tiny_train_command():
    assert _spelled_train_commands(REPOSITORY / "keras_simple_diffusion/training/commands.py")
    spelled = {
        str(path.relative_to(REPOSITORY)): lines
        for folder in ("tests", "scripts", "examples", "benchmarks")
        for path in sorted((REPOSITORY / folder).rglob("*.py"))
        if (lines := _spelled_train_commands(path))
    }
    assert spelled == {}, "use training.commands.tiny_train_command"


def test_the_tiny_train_command_is_a_tiny_run():
    from keras_simple_diffusion.cli import build_parser

    args = build_parser().parse_args(tiny_train_command(steps=6, checkpoint_every=3))
    assert (args.model, args.image_size, args.steps, args.checkpoint_every) == (
        "uvit-tiny",
        16,
        6,
        3,
    )
