"""Noto Color Emoji as data: the font's errors, the cache, and the real font
where the machine has it (CI installs `fonts-noto-color-emoji`)."""

import os
import warnings

import numpy as np
import pytest
from real_data import require

from keras_simple_diffusion import files
from keras_simple_diffusion.cli import main
from keras_simple_diffusion.data import emoji, load_dataset


@pytest.fixture(scope="module")
def font_path():
    return require(emoji.find_font, "the emoji font")


def test_a_missing_font_says_how_to_install_it(tmp_path, capsys):
    with pytest.raises(FileNotFoundError) as error:
        emoji.find_font(str(tmp_path))
    message = str(error.value)
    assert "\n" not in message and str(tmp_path) in message
    assert "apt-get install fonts-noto-color-emoji" in message and "dnf install" in message
    assert main(["train", "--dataset", "emoji", "--data-dir", str(tmp_path), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "fonts-noto-color-emoji" in lines[0]


def test_a_font_without_colour_glyphs_is_refused():
    matplotlib = pytest.importorskip("matplotlib")
    plain = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    with pytest.raises(ValueError, match=r"DejaVuSans\.ttf has no colour glyphs"):
        emoji.emoji_catalogue(plain)


def test_options_and_groups():
    assert emoji.parse_emoji_spec("emoji") == ("text", [])
    assert emoji.parse_emoji_spec("emoji:group:food-drink:flags") == (
        "group",
        ["Food & Drink", "Flags"],
    )
    assert emoji.parse_emoji_spec("emoji:flags:name") == ("name", ["Flags"])
    with pytest.raises(ValueError, match="Unknown emoji option or group 'food'.*food-drink"):
        emoji.parse_emoji_spec("emoji:food")
    labels, names = emoji.group_labels(np.array(["Flags", "Smileys & Emotion", "Flags"]))
    assert names == ["Smileys & Emotion", "Flags"] and labels.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="apt-get install unicode-data"):
        emoji.group_labels(np.array(["", ""]))
    labels, names = emoji.name_labels(np.array(["red apple", "pear"]))
    assert names == ["red apple", "pear"] and labels.tolist() == [0, 1]


def test_emoji_test_names_and_groups(tmp_path):
    path = tmp_path / "emoji-test.txt"
    path.write_text(
        "# group: Smileys & Emotion\n"
        "1F600 ; fully-qualified # 😀 E1.0 grinning face\n"
        "263A FE0F ; fully-qualified # ☺️ E0.6 smiling face\n"
        "263A ; unqualified # ☺ E0.6 smiling face\n"
        "# group: Component\n"
        "1F3FB ; component # 🏻 E1.0 light skin tone\n"
        "# group: Flags\n"
        "1F1E6 1F1E8 ; fully-qualified # 🇦🇨 E2.0 flag: Ascension Island\n",
        encoding="utf-8",
    )
    assert emoji.read_emoji_test(str(path)) == {
        0x1F600: ("grinning face", "Smileys & Emotion"),
        0x263A: ("smiling face", "Smileys & Emotion"),
    }


def test_the_real_font_gives_colour_emoji_on_white_with_names_and_groups(font_path):
    info = load_dataset("emoji", image_size=64, batch_size=32, shuffle=False)
    assert info.images.shape[1:] == (64, 64, 3) and 1000 < len(info.images) < 2000
    assert len(info.captions) == len(info.images) and "grinning face" in info.captions
    # Composited on white: most corners are white (square emoji such as
    # buttons fill theirs), and there is colour.
    white_corners = np.all(info.images[:, [0, 0, -1, -1], [0, -1, 0, -1]] == 1.0, axis=(1, 2))
    assert np.mean(white_corners) > 0.8
    spread = info.images.max(axis=-1) - info.images.min(axis=-1)
    assert np.mean(spread > 0.5) > 0.1
    if emoji.find_emoji_test() is None:
        return
    grouped = load_dataset("emoji:group", image_size=32, batch_size=32, shuffle=False)
    assert grouped.class_names == list(emoji.GROUPS)
    food = load_dataset("emoji:group:food-drink", image_size=32, batch_size=32, shuffle=False)
    assert 50 < len(food.images) < 300 and set(food.labels.tolist()) == {0}
    drawn = emoji.load_emoji()
    red_apple = drawn["images"][list(drawn["captions"]).index("red apple")]
    assert red_apple[..., 0].mean() > red_apple[..., 1].mean() + 20  # red


def test_a_corrupt_cache_is_drawn_again(font_path, monkeypatch):
    catalogue = emoji.emoji_catalogue(font_path, emoji.find_emoji_test())
    monkeypatch.setattr(emoji, "emoji_catalogue", lambda *args: catalogue[:3])
    monkeypatch.setenv(
        "KSD_CACHE_DIR", os.path.join(files.default_cache_dir(), "corrupt-cache-test")
    )
    first = emoji.load_emoji()
    assert len(first["images"]) == 3
    cache = emoji._cache_path(font_path, emoji.find_emoji_test())
    with open(cache, "wb") as file:
        file.write(b"not an npz")
    with pytest.warns(UserWarning, match="unreadable; drawing the emoji again"):
        again = emoji.load_emoji()
    np.testing.assert_array_equal(again["images"], first["images"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(emoji.load_emoji()["images"], first["images"])
