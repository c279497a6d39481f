"""Fashion-MNIST: the IDX reader's checks on files the tests write, and the
real files where the machine has them (CI installs `dataset-fashion-mnist`)."""

import gzip
import os

import numpy as np
import pytest
from real_data import require

from keras_simple_diffusion.cli import main
from keras_simple_diffusion.data import fashion, held_out_split, load_dataset


def write_idx(path, array, magic=None):
    """A gzipped IDX file of uint8 `array`, with its own magic number unless
    `magic` overrides it."""
    magic = 0x0800 + array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype("uint8").tobytes())
    return str(path)


def test_read_idx_returns_the_stored_array(tmp_path):
    array = np.arange(3 * 4 * 5, dtype="uint8").reshape(3, 4, 5)
    path = write_idx(tmp_path / "images.gz", array)
    np.testing.assert_array_equal(fashion.read_idx(path, 0x0803, (3, 4, 5)), array)


def test_read_idx_refuses_a_wrong_magic_number_count_or_length(tmp_path):
    array = np.zeros((3, 4, 5), "uint8")
    labels_path = write_idx(tmp_path / "labels.gz", np.zeros(3, "uint8"))
    with pytest.raises(ValueError, match=r"labels\.gz has magic number 0x00000801, not 0x00000803"):
        fashion.read_idx(labels_path, 0x0803, (3, 4, 5))
    wrong_count = write_idx(tmp_path / "count.gz", array)
    with pytest.raises(
        ValueError, match=r"count\.gz holds an array of shape \(3, 4, 5\), expected"
    ):
        fashion.read_idx(wrong_count, 0x0803, (4, 4, 5))
    truncated = tmp_path / "truncated.gz"
    with gzip.open(truncated, "wb") as file:
        file.write(gzip.decompress(open(wrong_count, "rb").read())[:-7])
    with pytest.raises(ValueError, match=r"truncated\.gz has 69 bytes, expected 76"):
        fashion.read_idx(str(truncated), 0x0803, (3, 4, 5))
    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(b"not a gzip file")
    with pytest.raises(ValueError, match=r"plain\.gz is not a readable gzipped IDX file"):
        fashion.read_idx(str(not_gzip), 0x0803, (3, 4, 5))


def test_missing_files_name_both_ways_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        fashion.load_fashion(data_dir=str(tmp_path))
    message = str(error.value)
    assert "\n" not in message and str(tmp_path) in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "keras.datasets.fashion_mnist.load_data()" in message


def test_the_cli_reports_missing_files_in_one_line(tmp_path, capsys):
    assert main(["train", "--dataset", "fashion", "--data-dir", str(tmp_path), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "dataset-fashion-mnist" in lines[0]


def test_spec_options_and_held_out_split():
    assert fashion.parse_fashion_spec("fashion") == ("train", False)
    assert fashion.parse_fashion_spec("fashion:test:text") == ("test", True)
    with pytest.raises(ValueError, match="Unknown Fashion-MNIST option 'val' in 'fashion:val'"):
        fashion.parse_fashion_spec("fashion:val")
    assert held_out_split("fashion") == "fashion:test"
    assert held_out_split("fashion:train:text") == "fashion:test:text"
    assert held_out_split("fashion:test") is None
    assert held_out_split("digits") is None
    assert fashion.class_prompt("ankle boot") == "a photo of an ankle boot"
    assert fashion.class_prompt("sandal") == "a photo of a sandal"


@pytest.fixture(scope="module")
def fashion_dir():
    return require(fashion.find_fashion_dir, "Fashion-MNIST")


def test_the_real_files_load_padded_with_balanced_labels(fashion_dir):
    info = load_dataset("fashion:test", batch_size=64, shuffle=False)
    assert info.images.shape == (10_000, 32, 32, 1)
    assert info.num_classes == 10 and info.class_names[9] == "ankle boot"
    np.testing.assert_array_equal(np.bincount(info.labels), [1000] * 10)
    # The 2-pixel padding is the black background, exactly.
    assert np.all(info.images[:, :2] == -1.0) and np.all(info.images[:, :, -2:] == -1.0)
    assert info.images.max() == 1.0
    raw, labels = fashion.load_fashion("test", data_dir=fashion_dir)
    np.testing.assert_array_equal(info.labels, labels)
    np.testing.assert_allclose(info.images[0, 2:30, 2:30, 0], raw[0] / 127.5 - 1.0, atol=1e-6)
    native = load_dataset("fashion:test", image_size=28, batch_size=64, shuffle=False)
    assert native.images.shape == (10_000, 28, 28, 1)


def test_the_text_form_captions_each_image_with_its_class(fashion_dir):
    info = load_dataset("fashion:test:text", batch_size=64, shuffle=False)
    _, labels = fashion.load_fashion("test", data_dir=os.fspath(fashion_dir))
    assert info.num_classes is None and len(info.captions) == 10_000
    assert info.captions[0] == fashion.class_prompt(fashion.CLASS_NAMES[labels[0]])
