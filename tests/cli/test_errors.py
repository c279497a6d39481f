"""Bad input: one `error: ...` line on stderr and exit status 2."""

import os

import pytest

from keras_simple_diffusion.cli import main

TINY = ["--model", "uvit-tiny", "--steps", "2", "--sample-every", "2", "--quiet"]


def _fails_cleanly(argv, capsys, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert expected in err[0], err[0]


def test_unknown_dataset(tmp_path, capsys):
    _fails_cleanly(
        ["train", "--dataset", "nosuchset", "--runs-dir", str(tmp_path), *TINY],
        capsys,
        "Unknown dataset source 'nosuchset'",
    )


def test_tfds_dataset_not_prepared(tmp_path, capsys):
    _fails_cleanly(
        [
            "train",
            "--dataset",
            "tfds:mnist",
            "--data-dir",
            str(tmp_path),
            "--runs-dir",
            str(tmp_path),
            *TINY,
        ],
        capsys,
        "not prepared",
    )


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _fails_cleanly(
        ["train", "--dataset", str(tmp_path / "empty"), "--runs-dir", str(tmp_path), *TINY],
        capsys,
        "No image files",
    )


def test_image_size_not_divisible(tmp_path, capsys):
    _fails_cleanly(
        ["train", "--image-size", "18", "--runs-dir", str(tmp_path), *TINY],
        capsys,
        "image_size=18 is not divisible",
    )


def test_noise_d_high_not_above_noise_d(tmp_path, capsys):
    _fails_cleanly(
        ["train", "--noise-d", "8", "--noise-d-high", "8", "--runs-dir", str(tmp_path), *TINY],
        capsys,
        "`noise_d_high` (8) must exceed `noise_d` (8",
    )


def test_unknown_model(tmp_path, capsys):
    _fails_cleanly(
        ["train", "--model", "no-such-model", "--runs-dir", str(tmp_path), "--quiet"],
        capsys,
        "Unknown preset 'no-such-model'",
    )


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_missing_checkpoint(tmp_path, capsys, command):
    _fails_cleanly([command, "--checkpoint", str(tmp_path / "nope")], capsys, "does not exist")


def test_run_folder_without_checkpoint(tmp_path, capsys):
    _fails_cleanly(["sample", "--checkpoint", str(tmp_path)], capsys, "has no model.keras")


@pytest.mark.parametrize(
    "flags,expected",
    [
        (["--labels", "0,10"], "Labels in `labels` must be below num_classes=10; found 10."),
        (["--labels", "0,1", "--num-images", "3"], "num_images=3 does not match 2 labels"),
        (
            ["--labels", "0", "--guidance", "1", "--guidance-interval", "3", "-3"],
            "`guidance_interval` must have low < high. Received: guidance_interval=(3.0, -3.0)",
        ),
    ],
)
def test_sample_refuses_labels_the_model_refuses(tiny_run, tmp_path, capsys, flags, expected):
    out = str(tmp_path / "x.png")
    _fails_cleanly(
        ["sample", "--checkpoint", str(tiny_run), *flags, "--out", out], capsys, expected
    )
    assert not os.path.exists(out)


def test_resume_of_a_finished_run(tiny_run, capsys):
    _fails_cleanly(["train", "--resume", str(tiny_run)], capsys, "already finished")


def test_bad_flag_value_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", "--checkpoint", "x", "--labels", "a,b"])
    assert exit_info.value.code == 2
    assert "expected comma-separated integers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", "--checkpoint", "x", "--guidance-interval", "low", "3"])
    assert "--guidance-interval: expected a number or none; got 'low'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--checkpoint", "x", "--reference-draws", "0"])
    assert "`--reference-draws` must be at least 1" in capsys.readouterr().err


def test_distribution_flags_are_wired(tmp_path, capsys):
    from keras_simple_diffusion.backend import distribution_devices

    visible = len(distribution_devices())  # 0 without an engine (torch)
    mesh = f"{visible + 1}x1"  # one device too many, whatever is visible
    # PyTorch takes data parallelism from torchrun, without a mesh, and
    # refuses model parallelism.
    kind, expected = (
        ("data", f"Mesh {mesh} needs {visible + 1} devices but {visible} are visible")
        if visible
        else ("model", "--distribution model was requested")
    )
    _fails_cleanly(
        ["train", "--distribution", kind, "--mesh", mesh, "--runs-dir", str(tmp_path), *TINY],
        capsys,
        expected,
    )
