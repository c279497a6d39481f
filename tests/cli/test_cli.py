"""End to end: train -> sample -> evaluate with the `simple-diffusion` CLI.

Training writes its run folder on every backend; the sampling and evaluation
commands above `generate` and the evaluation (tested on every backend in
tests/core and tests/evaluation) are `slow`: one backend runs them."""

import csv
import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

from keras_simple_diffusion.cli import _given_settings, build_parser, main
from keras_simple_diffusion.training import TrainConfig
from keras_simple_diffusion.training.config import (
    DEFAULT_GUIDANCE,
    DEFAULT_LARGE_IMAGE_STEPS,
    DEFAULT_SOURCE_GUIDANCE_INTERVALS,
    DEFAULT_SOURCE_STEPS,
    DEFAULT_STEPS,
    DEFAULT_TEXT_STEPS,
)
from keras_simple_diffusion.training.trainer import build_model


def test_train_writes_a_run_folder(tiny_run):
    run_dir = os.path.realpath(tiny_run)
    assert sorted(os.listdir(run_dir)) == [
        "checkpoints",
        "config.json",
        "log.csv",
        "loss.png",
        "model.keras",
        "samples",
        "tensorboard",
    ]  # the backup is deleted once training ends
    assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == [
        "step_000002.keras",
        "step_000004.keras",
    ]
    assert sorted(os.listdir(os.path.join(run_dir, "samples"))) == [
        "step_000002.png",
        "step_000004.png",
    ]
    with open(os.path.join(run_dir, "log.csv")) as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["0", "1"]
    with open(os.path.join(run_dir, "config.json")) as file:
        assert json.load(file)["model"] == "uvit-tiny"
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4
    assert model.num_classes == 10 and model.image_size == 16
    # The default schedule is shifted towards noise: reference half the size.
    assert model.schedule.noise_d == 8


@pytest.mark.parametrize(
    "image_size,noise_d,expected",
    [
        (32, None, 16),
        (128, None, 64),
        (512, None, 64),
        (32, 64, 64),
    ],
)
def test_default_noise_d_is_half_the_image_size_up_to_64(image_size, noise_d, expected):
    assert TrainConfig(noise_d=noise_d).resolved_noise_d(image_size) == expected


def test_noise_d_high_interpolates_from_the_resolved_noise_d():
    assert TrainConfig().schedule_options(32) == {"noise_d": 16}
    assert TrainConfig(noise_d_high=64).schedule_options(32) == {
        "noise_d_low": 16,
        "noise_d_high": 64,
    }
    with pytest.raises(ValueError, match="`noise_d_high` \\(16\\) must exceed `noise_d` \\(16"):
        TrainConfig(noise_d_high=16).schedule_options(32)
    with pytest.raises(ValueError, match="`noise_d_high` must be at least 1"):
        TrainConfig(noise_d_high=0)


def test_fashion_and_emoji_interpolate_to_their_image_size_unless_a_schedule_is_given():
    fashion = TrainConfig(dataset="fashion")
    assert fashion.schedule_options(28) == {"noise_d_low": 14, "noise_d_high": 28}
    assert TrainConfig(dataset="fashion:test").schedule_options(32) == {
        "noise_d_low": 16,
        "noise_d_high": 32,
    }
    assert TrainConfig(dataset="fashion", noise_d=14).schedule_options(28) == {"noise_d": 14}
    assert TrainConfig(dataset="fashion", noise_d_high=20).schedule_options(28) == {
        "noise_d_low": 14,
        "noise_d_high": 20,
    }
    emoji = TrainConfig(dataset="emoji:group")
    assert emoji.schedule_options(64) == {"noise_d_low": 16, "noise_d_high": 64}
    assert emoji.schedule_options(32) == {"noise_d_low": 8, "noise_d_high": 32}
    # Above 64 px both keep the shift, where no interpolation was measured.
    assert emoji.schedule_options(128) == {"noise_d": 64}
    assert fashion.schedule_options(128) == {"noise_d": 64}
    assert TrainConfig(dataset="emoji", noise_d=32).schedule_options(64) == {"noise_d": 32}
    assert TrainConfig(dataset="digits").schedule_options(64) == {"noise_d": 32}
    # What a run's config.json keeps: the schedule as trained, whatever the
    # defaults become.
    resolved = fashion.with_resolved_schedule(28)
    assert (resolved.noise_d, resolved.noise_d_high) == (14, 28)
    assert resolved.schedule_options(28) == fashion.schedule_options(28)
    digits = TrainConfig().with_resolved_schedule(32)
    assert (digits.noise_d, digits.noise_d_high) == (16, None)


def test_default_steps_depend_on_the_data_and_the_image_size():
    def steps(text=False, image_size=32, **options):
        return TrainConfig(**options).with_default_steps(text, image_size).steps

    assert steps() == steps(image_size=64) == DEFAULT_STEPS == 4000
    assert steps(image_size=128) == steps(image_size=256) == DEFAULT_LARGE_IMAGE_STEPS == 2000
    assert steps(text=True) == steps(text=True, image_size=128) == DEFAULT_TEXT_STEPS == 6000
    assert steps(text=True, steps=7) == steps(image_size=128, steps=7) == 7
    fashion = DEFAULT_SOURCE_STEPS["fashion"]
    assert steps(dataset="fashion") == steps(dataset="fashion", image_size=128) == fashion
    assert steps(text=True, dataset="fashion:text") == fashion
    assert steps(dataset="fashion", steps=7) == 7
    assert steps(text=True, dataset="emoji", image_size=64) == DEFAULT_SOURCE_STEPS["emoji"] == 4000
    assert steps(text=True, dataset="emoji", image_size=128) == 1500
    assert steps(dataset="emoji:group", image_size=256, steps=7) == 7


def _sample(tiny_run, out, *args):
    assert (
        main(["sample", "--checkpoint", str(tiny_run), "--steps", "3", "--out", str(out), *args])
        == 0
    )


@pytest.mark.slow
def test_sample_npz_in_label_order(tiny_run, tmp_path):
    _sample(tiny_run, tmp_path / "a.npz", "--labels", "3,1,2", "--seed", "5")
    with np.load(tmp_path / "a.npz") as arrays:
        images, labels = arrays["images"], arrays["labels"]
    assert images.shape == (3, 16, 16, 1) and images.dtype == np.float32
    assert labels.tolist() == [3, 1, 2]
    assert images.min() >= -1.0 and images.max() <= 1.0
    model = keras.saving.load_model(os.path.join(tiny_run, "model.keras"))
    expected = model.generate(labels=[3, 1, 2], steps=3, seed=5)
    np.testing.assert_allclose(images, expected, atol=1e-5)


@pytest.mark.slow
def test_sample_draws_what_one_generate_call_draws(tiny_run, tmp_path):
    model = keras.saving.load_model(os.path.join(tiny_run, "model.keras"))
    assert model.guidance == DEFAULT_GUIDANCE  # the run's own weight, which `sample` takes
    labels = [index % 10 for index in range(20)]  # the classes in turn, as `sample` draws
    for batch_size in (None, 8):
        out = tmp_path / f"batch_{batch_size}.npz"
        flags = [] if batch_size is None else ["--batch-size", str(batch_size)]
        _sample(tiny_run, out, "--num-images", "20", "--seed", "3", *flags)
        expected = model.generate(
            labels=labels, steps=3, seed=3, batch_size=batch_size, guidance=DEFAULT_GUIDANCE
        )
        np.testing.assert_allclose(np.load(out)["images"], expected, atol=1e-5)
    out = tmp_path / "interval.npz"
    interval = ["--guidance", "2", "--guidance-interval", "-3", "none"]
    _sample(tiny_run, out, "--num-images", "20", "--seed", "3", *interval)
    expected = model.generate(
        labels=labels, steps=3, seed=3, guidance=2.0, guidance_interval=(-3.0, None)
    )
    np.testing.assert_allclose(np.load(out)["images"], expected, atol=1e-5)


@pytest.mark.slow
def test_same_seed_same_images(tiny_run, tmp_path):
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        _sample(
            tiny_run,
            tmp_path / f"{name}.npz",
            "--num-images",
            "4",
            "--seed",
            seed,
            "--guidance",
            "2",
        )
    a, b, c = (np.load(tmp_path / f"{name}.npz")["images"] for name in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.slow
def test_sample_png_grid_and_folder(tiny_run, tmp_path):
    _sample(tiny_run, tmp_path / "grid.png", "--labels", "0,1,2,3", "--columns", "2")
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (2 + 2 * 18, 2 + 2 * 18)
    _sample(tiny_run, tmp_path / "pngs", "--labels", "0,9")
    assert sorted(os.listdir(tmp_path / "pngs")) == ["00000_label0.png", "00001_label9.png"]


@pytest.mark.slow
def test_evaluate_reports_metrics(tiny_run, tmp_path, capsys):
    json_path = tmp_path / "metrics.json"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(tiny_run),
                "--num-samples",
                "20",
                "--steps",
                "2",
                "--guidance-interval",
                "-3",
                "inf",
                "--json",
                str(json_path),
            ]
        )
        == 0
    )
    metrics = json.loads(json_path.read_text())
    assert metrics["guidance_interval"] == [-3.0, None]
    assert 0.0 <= metrics["class_accuracy"] <= 1.0
    assert metrics["frechet_distance"] > 0 and metrics["real_frechet_distance"] > 0
    assert metrics["fid"].startswith("skipped")
    assert "FD real vs real" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.multibackend
def test_checkpoint_samples_on_another_backend(tiny_run, tmp_path, run_cli, other_backend):
    out = tmp_path / "other.npz"
    result = run_cli(
        [
            "sample",
            "--checkpoint",
            str(tiny_run),
            "--labels",
            "0,1",
            "--steps",
            "2",
            "--out",
            str(out),
        ],
        backend=other_backend,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    images = np.load(out)["images"]
    assert images.shape == (2, 16, 16, 1) and np.isfinite(images).all()


def test_runs_guide_with_their_sources_weight_and_interval():
    fashion = list(DEFAULT_SOURCE_GUIDANCE_INTERVALS["fashion"])
    for dataset, options, classes, weight, interval in (
        ("fashion", {}, 10, DEFAULT_GUIDANCE, fashion),
        ("fashion", {"guidance": 0.5}, 10, 0.5, fashion),
        ("digits", {}, 10, DEFAULT_GUIDANCE, None),
        ("digits", {}, None, None, None),  # unconditional: nothing to guide by
    ):
        config = TrainConfig(dataset=dataset, model="uvit-tiny", image_size=16, steps=4, **options)
        model = build_model(config, 16, 1, classes)
        assert (model.guidance, model.guidance_interval) == (weight, interval)


def test_multiscale_reaches_the_model_and_is_checked():
    for multiscale in (True, False):
        config = TrainConfig(model="uvit-tiny", image_size=16, steps=4, multiscale=multiscale)
        assert build_model(config, 16, 1, 10).multiscale is multiscale
    with pytest.raises(ValueError, match="`multiscale` must be True or False"):
        TrainConfig(multiscale="yes")


@pytest.mark.parametrize(
    "flags, multiscale",
    [([], None), (["--multiscale"], True), (["--no-multiscale"], False)],
)
def test_multiscale_flags_set_the_loss_and_no_flag_leaves_it_to_the_size(flags, multiscale):
    settings, _ = _given_settings(build_parser().parse_args(["train", *flags]))
    # Absent unless given, so that a resumed run keeps the loss it trained with.
    assert ("multiscale" in settings) == bool(flags)
    assert TrainConfig(**settings).multiscale is multiscale
