"""`train --image-size N`: the default model takes the size of the images,
and a preset too small for them is refused, naming one that fits."""

import keras
import pytest

from keras_simple_diffusion.cli import main
from keras_simple_diffusion.models import PRESETS, preset_for_image_size
from keras_simple_diffusion.training import TrainConfig, trainer
from keras_simple_diffusion.training.config import DEFAULT_SOURCE_MODELS
from keras_simple_diffusion.training.trainer import model_spec, with_resolved_model

# One optimizer step, one grid of one sampler step.
ONE_STEP = [
    "--batch-size",
    "2",
    "--steps",
    "1",
    "--sample-every",
    "1",
    "--checkpoint-every",
    "1",
    "--sample-steps",
    "1",
    "--quiet",
]


@pytest.mark.parametrize(
    "dataset,text,image_size,expected",
    [
        ("digits", False, 32, "uvit-digits"),
        ("digits", False, 16, "uvit-digits"),
        ("digits", False, 64, "uvit-digits-64"),
        ("digits", False, 128, "uvit-digits-128"),
        ("shapes", True, 128, "uvit-shapes-text-128"),
        ("shapes", True, 256, "uvit-shapes-text-256"),
        ("emoji", True, 64, "uvit-emoji"),
        ("emoji", True, 128, "uvit-emoji-128"),
        ("fashion", False, 28, "unet-fashion"),
        ("fashion", False, 128, "unet-fashion-128"),
        ("fashion:text", True, 28, "unet-fashion"),
    ],
)
def test_default_model_takes_the_image_size(dataset, text, image_size, expected):
    name, _ = model_spec(TrainConfig(dataset=dataset), image_size, text=text)
    assert name == expected


def test_the_emoji_preset_drops_its_text_encoder_on_groups_and_keeps_a_chosen_one():
    assert model_spec(TrainConfig(dataset="emoji:group"), 64) == (
        "uvit-emoji",
        {"text_encoder": None},
    )
    assert model_spec(TrainConfig(dataset="emoji"), 64, text=True) == ("uvit-emoji", {})
    chosen = TrainConfig(dataset="emoji:group", model="uvit-emoji")
    assert model_spec(chosen, 64) == ("uvit-emoji", {})


def test_the_fashion_preset_gains_a_text_encoder_only_on_captions():
    assert model_spec(TrainConfig(dataset="fashion"), 28) == ("unet-fashion", {})
    assert model_spec(TrainConfig(dataset="fashion:text"), 28, text=True) == (
        "unet-fashion",
        {"text_encoder": "default"},
    )


@pytest.mark.parametrize(
    "dataset,text,image_size",
    [
        ("digits", False, 128),
        ("fashion", False, 28),
        ("fashion:text", True, 28),
        ("emoji:group", False, 64),
        ("emoji", True, 128),
    ],
)
def test_a_saved_config_rebuilds_its_network_after_the_defaults_change(
    dataset, text, image_size, tmp_path, monkeypatch
):
    config = TrainConfig(dataset=dataset)
    built = model_spec(config, image_size, text)
    resolved = with_resolved_model(config, image_size, text)
    assert (resolved.model, resolved.model_options) == built
    resolved.save(tmp_path / "config.json")
    monkeypatch.setattr(trainer, "DEFAULT_MODEL", "unet-digits")
    for source in DEFAULT_SOURCE_MODELS:
        monkeypatch.setitem(DEFAULT_SOURCE_MODELS, source, "unet-shapes-text")
    assert model_spec(config, image_size, text)[0] != built[0]
    saved = TrainConfig.load(tmp_path / "config.json")
    assert model_spec(saved, image_size, text) == built


@pytest.mark.parametrize(
    "base,at_128_px",
    [
        ("uvit-digits", (4, (32, 32))),
        ("unet-digits", (4, (32, 32))),
        ("unet-fashion", (4, (32, 32))),
        ("uvit-shapes-text", (2, (64, 64, 64))),
        ("unet-shapes-text", (2, (64, 64, 64))),
        ("uvit-emoji", (4, (128, 128))),
        ("unet-emoji", (4, (128, 128))),
    ],
)
def test_sized_presets_reach_the_same_grid_with_room_for_every_wavelet_band(base, at_128_px):
    _, config = PRESETS[base]
    first, *rest = config["widths"]
    grid = config["image_size"] // config["downsample_factor"] // 2 ** len(config["widths"])
    changed = ("image_size", "downsample_factor", "widths")
    for size in (size for size in (64, 128, 256) if size > config["image_size"]):
        _, sized = PRESETS[f"{base}-{size}"]
        factor = sized["downsample_factor"]
        # The deepest wavelet whose bands fill at most half the first level.
        assert (
            2 * sized["channels"] * factor**2 <= first < 2 * sized["channels"] * (2 * factor) ** 2
        )
        # Levels as wide as the first bring it to the base's grid.
        extra = len(sized["widths"]) - len(config["widths"])
        assert sized["widths"] == (first,) * extra + (first, *rest)
        assert size // factor // 2 ** len(sized["widths"]) == grid
        unchanged = {key: value for key, value in sized.items() if key not in changed}
        assert unchanged == {key: value for key, value in config.items() if key not in changed}
    _, sized = PRESETS[f"{base}-128"]
    assert (sized["downsample_factor"], sized["widths"]) == at_128_px


@pytest.mark.parametrize(
    "name,image_size,message",
    [
        (
            "uvit-digits",
            128,
            "'uvit-digits' is sized for 32 px images, not 128 px: use uvit-digits-128",
        ),
        (
            "uvit-tiny",
            64,
            "use unet-digits-64 or unet-emoji or unet-fashion-64 or unet-shapes-text-64 or "
            "uvit-64 or uvit-digits-64 or uvit-emoji or uvit-shapes-text-64,",
        ),
        ("uvit-512", 1024, "not 1024 px: no preset is; please resize the images to 512 px"),
    ],
)
def test_a_preset_too_small_for_the_images_names_one_that_fits(name, image_size, message):
    with pytest.raises(ValueError, match=message):
        preset_for_image_size(name, image_size)


def test_train_refuses_a_preset_too_small_before_making_a_run(tmp_path, capsys):
    args = ["train", "--model", "uvit-digits", "--image-size", "64", *ONE_STEP]
    assert main([*args, "--runs-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "use uvit-digits-64" in error, error
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "dataset,preset,downsample_factor",
    [
        # A whole run at 128 px is minutes of XLA compiling on TensorFlow
        # and JAX, so it runs once; the presets' sizes are checked above on
        # every backend, and the text path in tests/text.
        pytest.param("digits", "uvit-digits-128", 4, marks=pytest.mark.slow),
        pytest.param("shapes:8", "uvit-shapes-text-128", 2, marks=pytest.mark.slow),
    ],
)
def test_train_at_128_px_runs_end_to_end(tmp_path, dataset, preset, downsample_factor):
    """Training, its EMA sample grid and the saved model: the whole `train`."""
    runs_dir = tmp_path / "runs"
    args = ["train", "--dataset", dataset, "--image-size", "128", *ONE_STEP]
    assert main([*args, "--runs-dir", str(runs_dir)]) == 0
    model = keras.saving.load_model(runs_dir / "latest" / "model.keras", compile=False)
    assert model.image_size == 128
    assert model.denoiser.downsample_factor == downsample_factor
    config = model.denoiser.get_config()
    for key, value in PRESETS[preset][1].items():
        if key not in ("text_encoder", "channels"):
            found = config[key]
            assert (tuple(found) if isinstance(found, list) else found) == value, key
    assert (runs_dir / "latest" / "samples" / "step_000001.png").is_file()
