"""A text model on the emoji, from `train` to `evaluate`'s caption retrieval."""

import json
from types import SimpleNamespace

import pytest
from real_data import require

from keras_simple_diffusion.cli import main
from keras_simple_diffusion.data import emoji
from keras_simple_diffusion.training.commands import tiny_train_command


@pytest.mark.slow
def test_train_and_evaluate_on_emoji_captions(tmp_path):
    require(emoji.find_font, "the emoji font")
    runs_dir = tmp_path / "runs"
    # The tiny run, on the emoji's captions with the tiny text U-ViT.
    train = tiny_train_command(steps=2, batch_size=16) + [
        "--dataset",
        "emoji:activities",
        "--model",
        "uvit-text-tiny",
        "--runs-dir",
        str(runs_dir),
    ]
    assert main(train) == 0
    out = tmp_path / "evaluation.json"
    evaluate = ["evaluate", "--checkpoint", str(runs_dir / "latest"), "--num-samples", "8"]
    assert main(evaluate + ["--steps", "2", "--json", str(out), "--quiet"]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["dataset"] == "emoji:activities" and metrics["num_samples"] == 8
    assert 0.0 <= metrics["top1_retrieval"] <= metrics["top5_retrieval"] <= 1.0
    # An untrained model's samples are far from real emoji in both spaces.
    assert metrics["pixel_fd_ratio"] > 1.0 and metrics["patch_fd_ratio"] > 1.0


def class_model(**attributes):
    """A class-conditional 32 px colour model, as `evaluate_checkpoint` sees it."""
    return SimpleNamespace(
        text_encoder=None,
        image_size=32,
        denoiser=SimpleNamespace(channels=3),
        sampling_defaults=lambda steps, sampler: (steps or 2, sampler or "ddim"),
        resolve_guidance=lambda guidance, default: guidance or default,
        resolve_guidance_interval=lambda interval: interval,
        **attributes,
    )


def test_a_model_of_each_emoji_by_its_class_is_scored_by_retrieval_of_that_emoji():
    from keras_simple_diffusion.data import load_dataset
    from keras_simple_diffusion.training.assessment import evaluate_checkpoint

    require(emoji.find_font, "the emoji font")
    source = "emoji:name:activities"
    real = load_dataset(source, image_size=32, batch_size=8, shuffle=False)
    assert "soccer ball" in real.class_names
    assert real.labels.tolist() == list(range(len(real.images)))
    # A model that draws exactly the real emoji of each class asked for.
    model = class_model(generate=lambda labels, **settings: real.images[labels] * 2.0 - 1.0)
    metrics, _ = evaluate_checkpoint(model, "unsaved", dataset=source, num_samples=40)
    assert metrics["top1_retrieval"] == 1.0 and metrics["dataset"] == source


def test_a_model_of_the_emoji_by_class_is_not_scored_against_their_captions():
    from keras_simple_diffusion.training.assessment import evaluate_checkpoint

    require(emoji.find_font, "the emoji font")
    model = class_model(num_classes=45)
    with pytest.raises(
        ValueError, match="45 classes but dataset 'emoji:activities' gives captions"
    ):
        evaluate_checkpoint(model, "unsaved", dataset="emoji:activities", num_samples=8)


def test_emoji_runs_train_at_64_px_unless_told(monkeypatch):
    from keras_simple_diffusion.training.config import TrainConfig
    from keras_simple_diffusion.training.trainer import is_text_conditioned, load_training_data

    require(emoji.find_font, "the emoji font")
    config = TrainConfig(dataset="emoji:activities", batch_size=16)
    info, num_classes = load_training_data(config)
    assert info.image_size == 64 and num_classes is None and is_text_conditioned(config, info)
    info, _ = load_training_data(TrainConfig(dataset="emoji:activities", image_size=32))
    assert info.image_size == 32
