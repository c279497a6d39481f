"""The command line's flags: one source (`TrainConfig`), checked before
anything is written, overriding a resumed run's saved values, quiet backends,
progress, and outputs that are what they are named."""

import dataclasses
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from keras_simple_diffusion import SimpleDiffusion, build_denoiser
from keras_simple_diffusion.cli import main
from keras_simple_diffusion.models import preset_config
from keras_simple_diffusion.progress import Progress
from keras_simple_diffusion.training import TrainConfig
from keras_simple_diffusion.training import trainer as trainer_module

# Start-up lines of TensorFlow, XLA, absl and JAX that no command may print
# unless asked to (--verbose).
BACKEND_NOISE = re.compile(
    r"absl::InitializeLog|Compiled cluster using XLA|oneDNN|cuda|cuInit|CUDA|"
    r"NVIDIA GPU may be present|cpu_feature_guard|TF_ENABLE_ONEDNN_OPTS|^[IWE]\d{4} ",
    re.MULTILINE,
)


def _usage_error(argv, capsys):
    """Runs argv, which argparse must refuse; returns the stderr text."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def _fails(argv, capsys, expected, status=2):
    """Runs argv, which must fail with one `error:` line containing `expected`."""
    assert main(argv) == status
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert expected in err[0], err[0]
    return err[0]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained 16 px class-conditional model saved as a `.keras` file."""
    model = SimpleDiffusion(build_denoiser("uvit-tiny", image_size=16, num_classes=10), noise_d=8)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model.save(path)
    return path


def test_every_config_field_is_a_train_flag(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    # argparse wraps lines at hyphens too ("uvit-shapes-\ntext")
    help_text = "".join(capsys.readouterr().out.split())
    for field in dataclasses.fields(TrainConfig):
        if field.metadata["flag"]:
            assert "--" + field.name.replace("_", "-") in help_text
            assert "".join(field.metadata["help"].split()) in help_text


def test_default_model_is_the_preset_of_the_default_run():
    name, options = trainer_module.model_spec(TrainConfig(), 32)
    assert (name, options) == ("uvit-digits", {})
    _, config = preset_config(name)
    assert (config["widths"], config["transformer_width"], config["transformer_depth"]) == (
        (32,),
        96,
        3,
    )
    assert config["embedding_dim"] == 96


@pytest.mark.parametrize(
    "flag",
    [
        "--guidance",
        "--learning-rate",
        "--label-dropout",
        "--weight-decay",
        "--ema-momentum",
        "--dropout",
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_numbers_are_refused(flag, value, tmp_path, capsys):
    err = _usage_error(["train", flag, value, "--runs-dir", str(tmp_path / "runs")], capsys)
    assert f"argument {flag}: `{flag}` must be finite" in err
    assert not os.path.exists(tmp_path / "runs")


@pytest.mark.parametrize("field", ["guidance", "learning_rate", "label_dropout", "ema_momentum"])
def test_config_refuses_non_finite_numbers(field):
    with pytest.raises(ValueError, match=f"`{field}` must be finite"):
        TrainConfig(**{field: float("nan")})


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--seed", "-1"], "`--seed` must be at least 0"),
        (["--seed", "99999999999"], "`--seed` must be at most 2147483647"),
        (["--warmup-steps", "-5"], "`--warmup-steps` must be at least 0"),
        (["--guidance", "-3"], "`--guidance` must be in [0.0, inf]"),
        (["--steps", "0"], "`--steps` must be at least 1"),
        (["--widths", "32,0"], "`--widths` must be at least 1"),
        (["--widths", "32,x"], "argument --widths: expected comma-separated integers"),
        (["--jit-compile", "maybe"], "argument --jit-compile: expected auto, true or false"),
        (["--batch-size", "x"], "argument --batch-size: expected an integer; got 'x'"),
        (["--background", "grey"], "`--background` must be 'white', 'black' or 'R,G,B'"),
        (["--fit", "stretch"], "`--fit` must be one of ['crop', 'pad']"),
        (["--max-pixels", "0"], "`--max-pixels` must be at least 1"),
    ],
)
def test_bad_values_are_refused_before_the_run_folder(argv, message, tmp_path, capsys):
    err = _usage_error(["train", *argv, "--runs-dir", str(tmp_path / "runs")], capsys)
    assert message in err
    assert not os.path.exists(tmp_path / "runs")


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_sampling_seed_is_checked(command, capsys):
    err = _usage_error([command, "--checkpoint", "x", "--seed", "-1"], capsys)
    assert "`--seed` must be at least 0" in err


def test_mesh_needs_distribution(tmp_path, capsys):
    _fails(
        ["train", "--mesh", "1x2", "--runs-dir", str(tmp_path / "runs")],
        capsys,
        "`mesh` ('1x2') needs `distribution`",
    )
    assert not os.path.exists(tmp_path / "runs")


def test_runs_dir_that_is_a_file(tmp_path, capsys):
    (tmp_path / "runs").write_text("")
    _fails(["train", "--runs-dir", str(tmp_path / "runs")], capsys, "is not a folder")


def test_non_square_npz_fails_before_the_run_folder(tmp_path, capsys):
    np.savez(tmp_path / "wide.npz", images=np.zeros((64, 16, 24, 1), "float32"))
    error = _fails(
        ["train", "--dataset", str(tmp_path / "wide.npz"), "--runs-dir", str(tmp_path / "runs")],
        capsys,
        "image",
    )
    assert re.search("image.size", error), error
    assert not os.path.exists(tmp_path / "runs")


def _saved_run(tmp_path, **settings):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    TrainConfig(**settings).save(run_dir / "config.json")
    return run_dir


def test_unknown_key_in_a_saved_config(tmp_path, capsys):
    run_dir = _saved_run(tmp_path)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "colour": "red"}))
    error = _fails(["train", "--resume", str(run_dir)], capsys, "unknown setting 'colour'")
    assert str(run_dir / "config.json") in error


def test_flags_given_on_resume_override_the_saved_config(tmp_path, capsys, monkeypatch):
    run_dir = _saved_run(tmp_path, learning_rate=1e6, model="uvit-tiny")
    trained = []

    def record(config, run_dir, runs_root):
        trained.append(config)
        return None, run_dir

    monkeypatch.setattr(trainer_module, "train", record)
    argv = ["train", "--resume", str(run_dir), "--learning-rate", "1e-3", "--model", "uvit-tiny"]
    assert main([*argv, "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["--learning-rate 0.001 overrides the saved 1000000.0"]
    assert trained[0] == dataclasses.replace(
        TrainConfig.load(run_dir / "config.json"), learning_rate=1e-3, verbose=0
    )


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--model", "unet-tiny"], "--model cannot change mid-run"),
        (["--widths", "64"], "--widths cannot change mid-run"),
        (["--image-size", "16"], "--image-size cannot change mid-run"),
        (["--steps", "10"], "--steps cannot change mid-run"),
    ],
)
def test_flags_that_cannot_change_on_resume(argv, message, tmp_path, capsys):
    run_dir = _saved_run(tmp_path, model="uvit-tiny")
    _fails(["train", "--resume", str(run_dir), *argv], capsys, message)


@pytest.mark.slow
def test_sample_progress_is_lines_without_a_terminal(checkpoint, tmp_path, capsys):
    argv = ["sample", "--checkpoint", str(checkpoint), "--steps", "1", "--labels", "1,2,3"]
    assert main([*argv, "--batch-size", "1", "--out", str(tmp_path / "a.npz")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split(" images")[0] for line in lines] == [
        "sample: 1/3",
        "sample: 2/3",
        "sample: 3/3",
    ]
    assert all("images/s" in line for line in lines)
    assert main([*argv, "--quiet", "--out", str(tmp_path / "b.npz")]) == 0
    assert capsys.readouterr().err == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal():
    stream = _Terminal()
    with Progress(4, "sample", unit="images", stream=stream) as progress:
        for _ in range(4):
            progress.update(1)
    text = stream.getvalue()
    assert text.startswith("\rsample: [") and text.endswith("\n")
    assert "4/4 images (100%)" in text and "images/s" in text


def test_progress_of_phases():
    stream = io.StringIO()
    with Progress(None, "evaluate", unit="phases", stream=stream) as phases:
        phases.begin("real images")
        phases.begin("sampling")
    assert [line.split(",")[0] for line in stream.getvalue().splitlines()] == [
        "evaluate: real images (phase 1)",
        "evaluate: sampling (phase 2)",
    ]
    assert phases.count == 2


def test_progress_lines_every_tenth():
    stream = io.StringIO()
    with Progress(100, "sample", unit="images", stream=stream) as progress:
        for _ in range(100):
            progress.update(1)
    lines = stream.getvalue().splitlines()
    assert [line.split(" images")[0] for line in lines] == [
        f"sample: {count}/100" for count in range(10, 101, 10)
    ]


def test_out_with_another_image_format_is_refused(checkpoint, tmp_path, capsys):
    out = tmp_path / "grid.jpg"
    _fails(
        ["sample", "--checkpoint", str(checkpoint), "--out", str(out)],
        capsys,
        f"use {tmp_path / 'grid.png'}",
    )
    assert not os.path.exists(out)


def test_out_folder_that_is_a_file(checkpoint, tmp_path, capsys):
    (tmp_path / "pngs").write_text("")
    _fails(
        ["sample", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "pngs")],
        capsys,
        "exists and is not a folder",
    )


@pytest.mark.slow
def test_samples_that_are_not_finite_name_the_checkpoint(tmp_path, capsys):
    model = SimpleDiffusion(build_denoiser("uvit-tiny", image_size=16, num_classes=10), noise_d=8)
    kernel = model.denoiser.trainable_weights[0]
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    path = tmp_path / "broken.keras"
    model.save(path)
    _fails(
        ["sample", "--checkpoint", str(path), "--steps", "1", "--out", str(tmp_path / "x.png")],
        capsys,
        str(path),
        status=1,
    )
    assert not os.path.exists(tmp_path / "x.png")


@pytest.mark.slow
def test_commands_print_no_backend_noise(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP")}
    env.pop("KSD_VERBOSE", None)
    train = (
        "train --model uvit-tiny --image-size 16 --batch-size 8 --steps 2 --sample-every 2 "
        "--checkpoint-every 2 --sample-steps 1"
    ).split() + ["--runs-dir", str(tmp_path / "runs")]
    sample = ["sample", "--checkpoint", str(tmp_path / "runs" / "latest"), "--steps", "1"]
    for argv in (train, [*sample, "--out", str(tmp_path / "grid.png")]):
        result = subprocess.run(
            [sys.executable, "-m", "keras_simple_diffusion", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert not BACKEND_NOISE.search(result.stderr), result.stderr[-2000:]
