"""The `distill` command: a run folder of rounds, resume, and bad input."""

import argparse
import os

import keras
import numpy as np
import pytest

import keras_simple_diffusion as ksd
from keras_simple_diffusion import cli
from keras_simple_diffusion.training import runs
from keras_simple_diffusion.training.config import DISTILL_CONFIG_FILE, DistillConfig, TrainConfig
from keras_simple_diffusion.training.distill import TEACHER_FILE, add_distill_parser, round_dir

# Two seconds-sized rounds: 8 -> 4 -> 2 steps, two optimizer steps each.
PLAN = [(8, True), (4, True)]
TINY_DISTILL = [
    "distill",
    "--teacher-steps",
    "8",
    "--steps",
    "2",
    "--steps-per-round",
    "2",
    "--sample-every",
    "2",
    "--checkpoint-every",
    "2",
    "--batch-size",
    "8",
    "--dataset",
    "digits",
    "--jit-compile",
    "false",
    "--quiet",
]


def distill_command(argv):
    """Parses and runs `distill` as `simple-diffusion` does."""
    parser = argparse.ArgumentParser(prog="simple-diffusion")
    add_distill_parser(parser.add_subparsers(dest="command"), [cli._common_options()])
    args = parser.parse_args(argv)
    return args.command_function(args)


def save_teacher(path, num_classes):
    """An untrained teacher: the command's files and checks do not need a good one."""
    denoiser = ksd.build_denoiser("uvit-tiny", image_size=16, num_classes=num_classes)
    ksd.SimpleDiffusion(denoiser, noise_d=8, seed=0).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def teacher_path(tmp_path_factory):
    return save_teacher(tmp_path_factory.mktemp("teacher") / "teacher.keras", num_classes=10)


@pytest.fixture(scope="module")
def distill_run_dir(teacher_path, tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("runs")
    assert (
        distill_command(TINY_DISTILL + ["--checkpoint", teacher_path, "--runs-dir", str(runs_dir)])
        == 0
    )
    return runs.resolve_run_dir(str(runs_dir / "latest"))


@pytest.mark.slow
def test_distill_writes_a_run_of_rounds(distill_run_dir, teacher_path):
    run_dir = distill_run_dir
    saved = DistillConfig.load(os.path.join(run_dir, DISTILL_CONFIG_FILE))
    assert saved.checkpoint == os.path.realpath(teacher_path)
    assert os.path.isfile(os.path.join(run_dir, TEACHER_FILE))
    for index in (1, 2):
        folder = round_dir(run_dir, index, PLAN)
        for name in (runs.MODEL_FILE, runs.LOG_FILE):
            assert os.path.isfile(os.path.join(folder, name)), (folder, name)
        assert os.listdir(os.path.join(folder, runs.SAMPLES_DIR)) == ["step_000002.png"]
        assert runs.checkpoints(folder)
    model, checkpoint = runs.load_checkpoint(run_dir)
    assert checkpoint == os.path.join(run_dir, runs.MODEL_FILE)
    assert type(model) is ksd.SimpleDiffusion
    assert (model.sampling_steps, model.sampler) == (2, "ddim")
    images = model.generate(labels=[0, 1], seed=0)
    np.testing.assert_array_equal(
        images, model.generate(labels=[0, 1], steps=2, sampler="ddim", seed=0)
    )


@pytest.mark.slow
def test_resume_skips_finished_rounds(distill_run_dir):
    run_dir = distill_run_dir
    first = os.path.join(round_dir(run_dir, 1, PLAN), runs.MODEL_FILE)
    second = os.path.join(round_dir(run_dir, 2, PLAN), runs.MODEL_FILE)
    first_time = os.path.getmtime(first)
    os.remove(second)
    assert distill_command(["distill", "--resume", run_dir, "--quiet"]) == 0
    assert os.path.getmtime(first) == first_time
    assert os.path.isfile(second)


def test_bad_input_names_the_problem(teacher_path, tmp_path):
    runs_dir = str(tmp_path / "runs")
    base = TINY_DISTILL + ["--runs-dir", runs_dir]
    with pytest.raises(ValueError, match="not the teacher's 8 steps divided by a power of two"):
        distill_command(base[:4] + ["3"] + base[5:] + ["--checkpoint", teacher_path])
    not_diffusion = str(tmp_path / "dense.keras")
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(not_diffusion)
    with pytest.raises(ValueError, match="is not a simple-diffusion model"):
        distill_command(base + ["--checkpoint", not_diffusion])
    unconditional = save_teacher(tmp_path / "unconditional.keras", num_classes=None)
    for guidance in (["--guidance", "2"], ["--guidance-range", "0,4"]):
        with pytest.raises(ValueError, match="needs a conditional teacher"):
            distill_command(base + ["--checkpoint", unconditional, *guidance])
    with pytest.raises(ValueError, match="guidance_range"):
        distill_command(base + ["--checkpoint", teacher_path, "--guidance-range", "4,1"])
    with pytest.raises(ValueError, match="distill needs --checkpoint"):
        distill_command(base)
    with pytest.raises(ValueError, match="takes no other distillation options"):
        distill_command(["distill", "--resume", runs_dir, "--steps", "4"])
    assert not os.path.exists(runs_dir)


@pytest.mark.slow
def test_evaluate_finds_the_dataset_of_a_distillation_run(distill_run_dir, tmp_path):
    from keras_simple_diffusion.training.assessment import run_dataset

    config_path = os.path.join(distill_run_dir, DISTILL_CONFIG_FILE)
    saved = open(config_path).read()
    with open(config_path, "w") as file:
        file.write(saved.replace('"dataset": "digits"', '"dataset": "shapes:64"'))
    try:
        first_round = round_dir(distill_run_dir, 1, PLAN)
        for checkpoint in (
            os.path.join(distill_run_dir, runs.MODEL_FILE),
            os.path.join(first_round, runs.MODEL_FILE),
            runs.checkpoints(first_round)[0],
        ):
            assert run_dataset(checkpoint) == ("shapes:64", None)
    finally:
        with open(config_path, "w") as file:
            file.write(saved)


def test_evaluate_reads_the_dataset_of_the_nearest_run(tmp_path):
    from keras_simple_diffusion.training.assessment import run_dataset

    distill_dir, train_dir = tmp_path / "distilled", tmp_path / "trained"
    for folder in (distill_dir, train_dir):
        folder.mkdir()
    DistillConfig(steps=8, dataset="shapes:64").save(distill_dir / DISTILL_CONFIG_FILE)
    TrainConfig(dataset="tfds:mnist", data_dir="/data").save(train_dir / runs.CONFIG_FILE)
    # A distillation run's model, teacher, round student and round checkpoint:
    # the teacher's dataset, as the run's distill.json holds it.
    for path in (
        "model.keras",
        TEACHER_FILE,
        "round_1_4_steps/model.keras",
        "round_1_4_steps/checkpoints/step_000002.keras",
    ):
        assert run_dataset(distill_dir / path) == ("shapes:64", None)
    for path in ("model.keras", "checkpoints/step_000002.keras"):
        assert run_dataset(train_dir / path) == ("tfds:mnist", "/data")
    assert run_dataset(tmp_path / "loose.keras") == (None, None)
