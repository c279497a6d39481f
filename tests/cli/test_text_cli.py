"""The CLI on captioned data: `train --dataset shapes` trains a
text-conditioned model, `sample --prompt` draws from it, `evaluate` scores
prompt adherence."""

import json
import os

import numpy as np
import pytest

from keras_simple_diffusion.cli import main

# 64 captioned shapes at 16 x 16, the tiny text U-ViT, 2 steps.
TINY_TEXT_TRAIN = [
    "train",
    "--dataset",
    "shapes:64",
    "--model",
    "uvit-text-tiny",
    "--image-size",
    "16",
    "--channels",
    "3",
    "--batch-size",
    "16",
    "--steps",
    "2",
    "--sample-every",
    "2",
    "--checkpoint-every",
    "2",
    "--sample-steps",
    "2",
    "--quiet",
]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("text_runs")
    assert main(TINY_TEXT_TRAIN + ["--runs-dir", str(runs_dir)]) == 0
    return runs_dir / "latest"


@pytest.mark.slow
def test_train_on_captions_builds_a_text_model(text_run):
    import keras

    import keras_simple_diffusion  # noqa: F401

    model = keras.saving.load_model(text_run / "model.keras", compile=False)
    assert model.text_encoder is not None and not model.num_classes
    assert (text_run / "samples" / "step_000002.png").is_file()


def test_default_model_on_captions_is_the_text_preset():
    from keras_simple_diffusion.training import TrainConfig
    from keras_simple_diffusion.training.trainer import DEFAULT_TEXT_MODEL, model_spec

    name, options = model_spec(TrainConfig(dataset="shapes"), 32, text=True)
    assert name == DEFAULT_TEXT_MODEL and options == {}
    # Another preset gains the default text encoder.
    name, options = model_spec(TrainConfig(model="uvit-tiny"), 32, text=True)
    assert name == "uvit-tiny" and options["text_encoder"] == "default"


@pytest.mark.slow
def test_sample_from_prompts(text_run, tmp_path):
    out = tmp_path / "shapes.npz"
    prompt = "a large red circle at the top left"
    args = [
        "sample",
        "--checkpoint",
        str(text_run),
        "--prompt",
        prompt,
        "--prompt",
        "",
        "--steps",
        "2",
        "--guidance",
        "2",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    images = np.load(out)["images"]
    assert images.shape == (2, 16, 16, 3) and np.all(np.abs(images) <= 1.0)
    # One prompt, several copies.
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(text_run),
                "--prompt",
                prompt,
                "--num-images",
                "3",
                "--steps",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert np.load(out)["images"].shape == (3, 16, 16, 3)


@pytest.mark.slow
def test_prompt_errors_are_one_line(text_run, tiny_run, capsys):
    assert main(["sample", "--checkpoint", str(tiny_run), "--prompt", "a red circle"]) == 2
    assert "not text-conditioned" in capsys.readouterr().err
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(text_run),
                "--prompt",
                "a",
                "--prompt",
                "b",
                "--num-images",
                "3",
            ]
        )
        == 2
    )
    assert "num_images=3 does not match 2 prompts" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_reports_prompt_adherence(text_run, tmp_path, capsys, cache_dir):
    from keras_simple_diffusion.evaluation import adherence
    from keras_simple_diffusion.training.assessment import shape_readers_dir

    # Small readers in the cache the command reads (the default ones train
    # on 4096 images).
    readers_dir = shape_readers_dir(16)
    assert readers_dir.startswith(str(cache_dir))
    adherence.train_attribute_classifiers(
        num_images=128, image_size=16, epochs=1, cache_dir=readers_dir
    )
    out = tmp_path / "evaluation.json"
    args = [
        "evaluate",
        "--checkpoint",
        str(text_run),
        "--num-samples",
        "8",
        "--steps",
        "2",
        "--guidance",
        "2",
        "--json",
        str(out),
    ]
    assert main(args) == 0
    # The command read those readers rather than training its own.
    assert os.listdir(cache_dir / "shape_readers") == [os.path.basename(readers_dir)]
    metrics = json.loads(out.read_text())
    for key in ("prompt_adherence", "prompt_adherence_unguided", "real_image_adherence"):
        assert 0.0 <= metrics[key] <= 1.0, key
    # The second measure, against real drawings in pooled pixels.
    assert metrics["pixel_fd_ratio"] > 0.0
    assert (
        metrics["pixel_fd_ratio"]
        == metrics["pixel_frechet_distance"] / (metrics["real_pixel_frechet_distance"])
    )
    assert "prompt_adherence" in capsys.readouterr().out
