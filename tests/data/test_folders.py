"""Image folders as real folders are: transparency, huge and bad files,
nested classes, crop or pad, and the cache. Every image is made here.

The reading is NumPy and Pillow only, so these tests do not depend on the
Keras backend (one of them goes through `load_dataset`'s pipeline)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from benchmarks.folder_scan import half_transparent_row, measure_folder_read, write_large_png
from keras_simple_diffusion.cli import build_parser, main
from keras_simple_diffusion.data import folders, load_dataset
from keras_simple_diffusion.data.folders import load_folder
from keras_simple_diffusion.training import config as train_config
from keras_simple_diffusion.training.assessment import run_folder_options

RED = (200, 30, 30)
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def _corner_transparent(mode, size=32, corner=8):
    """A red image whose four `corner` x `corner` corners are transparent,
    their hidden colour black (as transparent pixels mostly are)."""
    pixels = np.zeros((size, size, 4), "uint8")
    pixels[...] = (*RED, 255)
    for rows in (slice(0, corner), slice(size - corner, size)):
        for columns in (slice(0, corner), slice(size - corner, size)):
            pixels[rows, columns] = 0
    image = Image.fromarray(pixels, "RGBA")
    if mode == "LA":
        return image.convert("LA")
    if mode == "P":
        indices = (pixels[..., 3] == 0).astype("uint8")
        palette = Image.fromarray(indices, "P")
        palette.putpalette([*RED, 0, 0, 0])
        palette.info["transparency"] = 1
        return palette
    return image


def _save(image, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **{key: image.info[key] for key in ("transparency",) if key in image.info})


def _grey(colour):
    return Image.new("RGB", (1, 1), colour).convert("L").getpixel((0, 0))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
@pytest.mark.parametrize("background", ["white", "black"])
@pytest.mark.parametrize("channels", [3, 1])
def test_transparent_corners_take_the_background(tmp_path, mode, background, channels):
    _save(_corner_transparent(mode), tmp_path / "image.png")
    folder = load_folder(tmp_path, 16, channels, background=background, cache=False, quiet=True)
    (image,) = folder.images
    colour = WHITE if background == "white" else BLACK
    # The LA image is grey: its red is the grey Pillow makes of it.
    opaque = RED if mode != "LA" else (_grey(RED),) * 3
    expected_corner = colour if channels == 3 else (_grey(colour),)
    expected_centre = opaque if channels == 3 else (_grey(opaque),)
    for row, column in ((0, 0), (0, 15), (15, 0), (15, 15)):
        np.testing.assert_array_equal(image[row, column], expected_corner)
    np.testing.assert_allclose(image[8, 8], expected_centre, atol=1)


def test_background_colour_forms_and_errors(tmp_path):
    _save(_corner_transparent("RGBA"), tmp_path / "image.png")
    folder = load_folder(tmp_path, 16, background="10,200,30", cache=False, quiet=True)
    np.testing.assert_array_equal(folder.images[0, 0, 0], (10, 200, 30))
    folder = load_folder(tmp_path, 16, background=(1, 2, 3), cache=False, quiet=True)
    np.testing.assert_array_equal(folder.images[0, 0, 0], (1, 2, 3))
    for bad in ("grey", "1,2", "0,0,256", (1, 2, 3.5)):
        with pytest.raises(ValueError, match="`background` must be 'white', 'black' or 'R,G,B'"):
            load_folder(tmp_path, 16, background=bad)
    with pytest.raises(ValueError, match="`fit` must be one of"):
        load_dataset(tmp_path, fit="stretch")


def test_through_load_dataset_transparency_is_white(tmp_path):
    for index in range(4):
        _save(_corner_transparent("RGBA"), tmp_path / f"{index}.png")
    info = load_dataset(tmp_path, image_size=16, batch_size=4, cache=False, quiet=True)
    assert (info.num_examples, info.num_classes, info.channels) == (4, None, 3)
    images = next(iter(info.dataset)).numpy()
    np.testing.assert_allclose(images[:, 0, 0], 1.0)
    np.testing.assert_allclose(
        images[:, 8, 8], np.tile(np.array(RED) / 127.5 - 1, (4, 1)), atol=0.01
    )


def _solid(size, colour, mode="RGB"):
    return Image.new(mode, size, colour)


def test_files_over_the_pixel_limit_or_unreadable_are_skipped(tmp_path, capsys):
    for index in range(3):
        _save(_solid((8, 8), RED), tmp_path / f"small_{index}.png")
    _save(_solid((20, 20), RED), tmp_path / "large.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.warns(UserWarning, match=r"Skipped 2 of 5 .*1 unreadable, 1 over the pixel limit"):
        folder = load_folder(tmp_path, 8, max_pixels=100, cache=False, quiet=True)
    assert len(folder.images) == 3
    assert dict(folder.skipped).keys() == {"large.png", "broken.jpg"}
    lines = capsys.readouterr().err.splitlines()
    assert "Skipped large.png: 20x20 = 400 pixels, over the limit of 100" in lines[1]
    assert lines[0].startswith("Skipped broken.jpg: unreadable")
    with pytest.raises(ValueError, match="`max_pixels` must be at least 1"):
        load_folder(tmp_path, 8, max_pixels=0)


def test_a_file_over_pillows_own_limit_is_skipped_not_raised(tmp_path):
    # 231,424,000 pixels, more than twice Pillow's limit: PIL.Image.open
    # itself raises DecompressionBombError for it.
    write_large_png(tmp_path / "bomb.png", 15_200, 15_225, half_transparent_row(15_200))
    _save(_solid((8, 8), RED), tmp_path / "fine.png")
    with pytest.warns(UserWarning, match="1 over the pixel limit"):
        folder = load_folder(tmp_path, 8, cache=False, quiet=True)
    assert [path for path, _ in folder.skipped] == ["bomb.png"]
    assert len(folder.images) == 1


# A full decode of the 10,000 x 16,000 RGBA file takes 610 MiB for its
# pixels alone; band by band it took about 52 MiB more than the process
# held before.
HUGE_PNG_PEAK_MIB = 100


@pytest.mark.slow
@pytest.mark.skipif(
    not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's peak-memory reset"
)
def test_a_10000_by_16000_png_loads_in_bounded_memory(tmp_path):
    # Left half transparent, right half opaque red, every row alike.
    write_large_png(tmp_path / "huge.png", 10_000, 16_000, half_transparent_row(10_000))
    for fit, result in measure_folder_read(tmp_path, ("crop", "pad")).items():
        assert result["extra_mib"] < HUGE_PNG_PEAK_MIB
        image = np.array(result["image"], "uint8")
        assert image.shape == (64, 64, 3)
        # The transparent left half is white; the red right half ends at the
        # image's edge (crop) or 12 px before it (pad: 10,000 x 16,000
        # becomes 40 x 64 px, centred).
        red_end = 64 if fit == "crop" else 52
        np.testing.assert_array_equal(image[:, :30], np.full((64, 30, 3), 255))
        red = image[:, 34 : red_end - 2]
        np.testing.assert_array_equal(red, np.broadcast_to(RED, red.shape))
        np.testing.assert_array_equal(image[:, red_end:], 255)


def _random_image(mode, size, rng):
    width, height = size
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width)).astype("uint16"))
    if mode in ("P", "P;2"):
        image = Image.fromarray(rng.integers(0, 4, (height, width)).astype("uint8"), "P")
        image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
        image.info["transparency"] = 3
        return image
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (height, width, channels)).astype("uint8")
    return Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_band_by_band_decoding_matches_decoding_whole(tmp_path, monkeypatch, fit):
    """Random pixels make PNG writers use every row filter (Sub, Up,
    Average, Paeth), which the bands must carry over from band to band."""
    rng = np.random.default_rng(0)
    for mode in ("RGBA", "RGB", "LA", "L", "P", "P;2", "I;16"):
        image = _random_image(mode, (61, 83), rng)
        options = {"bits": 2} if mode == "P;2" else {}
        image.save(tmp_path / f"{mode.replace(';', '_')}.png", **options)
    whole = load_folder(tmp_path, 12, fit=fit, cache=False, quiet=True)
    monkeypatch.setattr(folders, "BAND_PIXELS", 61 * 7)
    banded = load_folder(tmp_path, 12, fit=fit, cache=False, quiet=True)
    assert len(whole.images) == 7
    np.testing.assert_array_equal(banded.images, whole.images)
    # Random pixels, 16-bit ones too, are not one colour.
    assert all(image.std() > 5 for image in whole.images)


def test_nested_folders_label_by_top_level_subfolder(tmp_path, capsys):
    _save(_solid((8, 8), RED), tmp_path / "animals" / "cats" / "a.png")
    _save(_solid((8, 8), RED), tmp_path / "animals" / "dogs" / "deep" / "b.jpg")
    _save(_solid((8, 8), RED), tmp_path / "icons" / "c.gif")
    _save(_solid((8, 8), RED), tmp_path / "top.png")  # beside the classes: ignored
    _save(_solid((8, 8), RED), tmp_path / "icons" / ".hidden" / "d.png")
    _save(_solid((8, 8), RED), tmp_path / ".thumbnails" / "e.png")
    (tmp_path / "empty").mkdir()  # no images: not a class
    (tmp_path / "icons" / "notes.txt").write_text("not an image")
    folder = load_folder(tmp_path, 8, cache=False)
    assert folder.class_names == ["animals", "icons"]
    np.testing.assert_array_equal(folder.labels, [0, 0, 1])
    summary = capsys.readouterr().err.splitlines()[-1]
    assert summary == (
        f"3 images of {str(tmp_path)!r} (decoded), 2 classes: animals 2, icons 1; "
        "1 images directly in the folder ignored (not in a class subfolder)"
    )
    flat = tmp_path / "icons"
    folder = load_folder(flat, 8, cache=False, quiet=True)
    assert (folder.labels, folder.class_names, len(folder.images)) == (None, None, 1)


def test_non_square_images_are_cropped_or_padded_never_stretched(tmp_path):
    # 40 x 20: blue outer quarters, a green middle half.
    pixels = np.zeros((20, 40, 3), "uint8")
    pixels[:, :10] = pixels[:, 30:] = (0, 0, 255)
    pixels[:, 10:30] = (0, 255, 0)
    _save(Image.fromarray(pixels), tmp_path / "wide.png")
    cropped = load_folder(tmp_path, 16, cache=False, quiet=True).images[0]
    np.testing.assert_array_equal(cropped, np.broadcast_to((0, 255, 0), (16, 16, 3)))
    padded = load_folder(tmp_path, 16, fit="pad", background="black", cache=False, quiet=True)
    padded = padded.images[0]
    # 40 x 20 becomes 16 x 8 on rows 4 to 11; the rest is the background.
    np.testing.assert_array_equal(padded[:4], 0)
    np.testing.assert_array_equal(padded[12:], 0)
    np.testing.assert_array_equal(padded[4:12, 0], np.broadcast_to((0, 0, 255), (8, 3)))
    np.testing.assert_array_equal(padded[4:12, 8], np.broadcast_to((0, 255, 0), (8, 3)))


def test_the_cache_is_reused_and_invalidated_by_a_change(tmp_path, cache_dir, capsys):
    images = tmp_path / "images"
    for index in range(3):
        _save(_solid((8, 8), RED), images / f"{index}.png")
    first = load_folder(images, 8, quiet=True)
    assert not first.from_cache and os.path.isfile(first.cache_path)
    assert os.path.dirname(first.cache_path) == os.path.join(cache_dir, "folders")
    second = load_folder(images, 8, quiet=True)
    assert second.from_cache and second.cache_path == first.cache_path
    np.testing.assert_array_equal(second.images, first.images)
    # Another option reads the files again, into a cache of its own.
    assert not load_folder(images, 8, background="black", quiet=True).from_cache
    _save(_solid((8, 8), BLACK), images / "0.png")
    os.utime(images / "0.png", ns=(1, 1))  # a new modification time
    changed = load_folder(images, 8, quiet=True)
    assert not changed.from_cache
    np.testing.assert_array_equal(changed.images[0], np.zeros((8, 8, 3)))
    assert not os.path.exists(first.cache_path), "the stale cache is removed"
    with open(changed.cache_path, "wb") as file:
        file.write(b"PK\x03\x04 truncated")
    capsys.readouterr()
    rebuilt = load_folder(images, 8, quiet=True)
    assert not rebuilt.from_cache
    assert "Rebuilding the unreadable cache" in capsys.readouterr().err
    assert load_folder(images, 8, quiet=True).from_cache


def test_large_first_image_without_image_size_is_refused(tmp_path):
    _save(_solid((600, 700), RED), tmp_path / "big.png")
    with pytest.raises(ValueError, match=r"big.png, is 600x700: pass image_size"):
        load_folder(tmp_path, cache=False, quiet=True)


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    grey = np.full((8, 8), 32768, "uint16")  # half of 16-bit white
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    folder = load_folder(tmp_path, 8, channels=1, cache=False, quiet=True)
    np.testing.assert_array_equal(folder.images, 128)


def test_train_config_holds_the_folder_options():
    assert train_config.FOLDER_FITS == folders.FITS
    assert train_config.DEFAULT_MAX_PIXELS == folders.DEFAULT_MAX_PIXELS
    config = train_config.TrainConfig(background="0,0,0", fit="pad", max_pixels=10)
    assert config.folder_options() == dict(background="0,0,0", fit="pad", max_pixels=10)
    with pytest.raises(ValueError, match="`background` must be"):
        train_config.TrainConfig(background="purple")
    with pytest.raises(ValueError, match="`fit` must be one of"):
        train_config.TrainConfig(fit="stretch")


def test_train_help_states_the_folder_rule():
    (train,) = [
        parser
        for action in build_parser()._subparsers._group_actions
        for name, parser in action.choices.items()
        if name == "train"
    ]
    text = " ".join(train.format_help().split())
    assert "each top-level subfolder with images is a class" in text
    assert "--background {white,black,R,G,B}" in text and "--fit {crop,pad}" in text


def test_evaluation_reads_a_folder_as_its_run_did(tmp_path):
    config = train_config.TrainConfig(dataset=str(tmp_path), background="black", fit="pad")
    config.save(tmp_path / "config.json")
    (tmp_path / "checkpoints").mkdir()
    options = run_folder_options(str(tmp_path / "checkpoints" / "step_000010.keras"))
    assert options == dict(background="black", fit="pad", max_pixels=folders.DEFAULT_MAX_PIXELS)


@pytest.mark.slow
def test_train_on_a_folder_of_transparent_images(tmp_path, capsys):
    for index in range(8):
        _save(_corner_transparent(("RGBA", "P")[index % 2]), tmp_path / "data" / f"{index}.png")
    argv = ["train", "--dataset", str(tmp_path / "data"), "--image-size", "16"]
    argv += ["--background", "black", "--model", "uvit-tiny", "--batch-size", "8", "--steps", "2"]
    argv += ["--sample-every", "2", "--checkpoint-every", "2", "--sample-steps", "2"]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "latest"
    assert (run / "samples" / "step_000002.png").is_file()
    assert json.loads((run / "config.json").read_text())["background"] == "black"
    assert "8 images of" in capsys.readouterr().err
