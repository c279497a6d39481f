import threading

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from keras_simple_diffusion.data import DatasetInfo, load_dataset, parse_caption


def _batches(info):
    return [
        tuple(part.numpy() for part in batch) if isinstance(batch, tuple) else batch.numpy()
        for batch in info.dataset
    ]


def test_digits_is_the_default_with_static_batches():
    info = load_dataset(batch_size=256, shuffle=False)
    assert isinstance(info, DatasetInfo)
    assert (info.image_size, info.channels) == (32, 1)
    assert (info.num_examples, info.num_classes) == (1797, 10)
    assert info.class_names == [str(digit) for digit in range(10)]
    images_spec, labels_spec = info.dataset.element_spec
    assert images_spec.shape.as_list() == [256, 32, 32, 1]
    assert labels_spec.dtype == tf.int32
    batches = _batches(info)
    assert len(batches) == 1797 // 256
    # Unshuffled batches follow the raw arrays.
    np.testing.assert_array_equal(batches[0][0], info.images[:256])
    np.testing.assert_array_equal(batches[0][1], info.labels[:256])


def test_shuffling_is_seeded_and_reshuffles_each_epoch():
    def first_labels(seed):
        info = load_dataset("digits", image_size=8, batch_size=64, seed=seed)
        return [batch[1].numpy() for batch in info.dataset.take(1)][0]

    np.testing.assert_array_equal(first_labels(1), first_labels(1))
    assert not np.array_equal(first_labels(1), first_labels(2))
    info = load_dataset("digits", image_size=8, batch_size=1797, repeat=True)
    first, second = [labels.numpy() for _, labels in info.dataset.take(2)]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(second))


def test_remainder_is_kept_on_request_and_small_datasets_fail_clearly():
    info = load_dataset("digits", image_size=8, batch_size=1000, drop_remainder=False)
    assert [len(labels) for _, labels in _batches(info)] == [1000, 797]
    with pytest.raises(ValueError, match="fewer than batch_size=2000"):
        load_dataset("digits", batch_size=2000)


def test_digits_resizes_and_converts_channels():
    info = load_dataset("digits", image_size=12, channels=3, batch_size=8)
    images, _ = next(iter(info.dataset))
    assert images.shape == (8, 12, 12, 3)
    assert (info.image_size, info.channels) == (12, 3)
    np.testing.assert_allclose(images[..., 0], images[..., 2])


def test_shapes_yield_captions():
    info = load_dataset("shapes:40", batch_size=16, shuffle=False)
    assert (info.num_examples, info.num_classes, info.channels) == (40, None, 3)
    images, captions = next(iter(info.dataset))
    assert images.shape == (16, 32, 32, 3)
    assert captions.dtype == tf.string
    decoded = [caption.decode() for caption in captions.numpy()]
    assert decoded == info.captions[:16]
    parse_caption(decoded[0])
    assert load_dataset("shapes", batch_size=8).num_examples == 4096


@pytest.mark.parametrize("image_size", [0, -3, 2.5])
def test_invalid_image_size(image_size):
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("digits", image_size=image_size)


@pytest.mark.parametrize("source", ["cifar", 42, "shapes:many"])
def test_unknown_source_lists_accepted_forms(source):
    with pytest.raises(ValueError) as error:
        load_dataset(source)
    message = str(error.value)
    if source == "shapes:many":
        assert "shapes:NUM_IMAGES" in message
    else:
        assert "tfds:NAME[:SPLIT]" in message and ".npz" in message


def _save_image(path, size, value, mode="RGB"):
    width, height = size
    channels = 3 if mode == "RGB" else 1
    pixels = np.full((height, width, channels), value, "uint8").squeeze()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path)


@pytest.fixture
def image_folder(tmp_path):
    """Two classes of mixed sizes and modes, with one corrupt file."""
    for index in range(3):
        _save_image(tmp_path / "cats" / f"{index}.png", (20, 16), 0)
    for index in range(4):
        _save_image(tmp_path / "dogs" / f"{index}.png", (40, 40), 255, "L")
    (tmp_path / "dogs" / "broken.png").write_bytes(b"not an image at all")
    (tmp_path / "dogs" / "notes.txt").write_text("ignored, not an image")
    return tmp_path


def test_folder_with_class_subfolders_skips_corrupt_files(image_folder):
    with pytest.warns(UserWarning, match=r"Skipped 1 of 8 image files .*: 1 unreadable"):
        info = load_dataset(image_folder, image_size=8, batch_size=7, shuffle=False)
    assert info.class_names == ["cats", "dogs"]
    assert (info.num_classes, info.num_examples, info.channels) == (2, 7, 3)
    ((images, labels),) = _batches(info)
    assert images.shape == (7, 8, 8, 3)
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1, 1])
    # Black cats and white dogs, whatever their original size or mode.
    np.testing.assert_allclose(images[labels == 0], -1.0)
    np.testing.assert_allclose(images[labels == 1], 1.0)


def test_folder_defaults_to_first_image_size_and_greyscale(image_folder):
    with pytest.warns(UserWarning, match="unreadable"):
        info = load_dataset(image_folder, channels=1, batch_size=7)
    assert (info.image_size, info.channels) == (16, 1)
    ((images, labels),) = _batches(info)
    assert images.shape == (7, 16, 16, 1)
    assert sorted(labels) == [0, 0, 0, 1, 1, 1, 1]


def test_folder_without_subfolders_is_unlabelled(tmp_path):
    for index in range(5):
        _save_image(tmp_path / f"{index}.jpg", (10, 10), 128)
    info = load_dataset(str(tmp_path), image_size=10, batch_size=5)
    assert (info.num_classes, info.class_names, info.num_examples) == (
        None,
        None,
        5,
    )
    (images,) = _batches(info)
    assert images.shape == (5, 10, 10, 3)
    np.testing.assert_allclose(images, 128 / 127.5 - 1, atol=0.02)


def test_empty_and_missing_folders_name_the_path(tmp_path):
    (tmp_path / "empty" / "class_a").mkdir(parents=True)
    with pytest.raises(ValueError, match="No image files .* found in .*empty"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(ValueError, match="missing.* does not exist"):
        load_dataset(str(tmp_path / "missing"))


def test_npz_with_uint8_images_and_labels(tmp_path):
    images = np.zeros((6, 8, 8, 3), "uint8")
    images[3:] = 255
    labels = np.array([0, 0, 0, 2, 2, 2])
    np.savez(tmp_path / "data.npz", images=images, labels=labels)
    info = load_dataset(str(tmp_path / "data.npz"), batch_size=6, shuffle=False)
    assert (info.num_classes, info.class_names) == (3, ["0", "1", "2"])
    assert info.images.dtype == np.float32
    np.testing.assert_array_equal(info.images[:3], -1.0)
    np.testing.assert_array_equal(info.images[3:], 1.0)
    ((batch_images, batch_labels),) = _batches(info)
    np.testing.assert_array_equal(batch_labels, labels)
    assert batch_labels.dtype == np.int32


def test_npz_with_float_images_and_no_labels(tmp_path):
    images = np.linspace(-1, 1, 4 * 5 * 5).reshape(4, 5, 5).astype("float32")
    np.savez(tmp_path / "float.npz", images=images)
    info = load_dataset(tmp_path / "float.npz", batch_size=4, shuffle=False)
    assert (info.image_size, info.channels, info.num_classes) == (5, 1, None)
    (batch,) = _batches(info)
    np.testing.assert_allclose(batch[..., 0], images, atol=1e-6)


def test_npz_range_and_content_errors(tmp_path):
    np.savez(tmp_path / "big.npz", images=np.full((2, 4, 4), 3.0))
    with pytest.raises(ValueError, match=r"big.npz' must be in \[-1, 1\]"):
        load_dataset(tmp_path / "big.npz", batch_size=1)
    np.savez(tmp_path / "unit.npz", images=np.full((2, 4, 4), 0.5))
    with pytest.warns(UserWarning, match="no negative values"):
        load_dataset(tmp_path / "unit.npz", batch_size=1)
    np.savez(tmp_path / "other.npz", pixels=np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"no 'images' array.*pixels"):
        load_dataset(tmp_path / "other.npz", batch_size=1)
    with pytest.raises(ValueError, match="does not exist"):
        load_dataset(tmp_path / "absent.npz")


def test_array_pair_and_tf_dataset_sources():
    images = np.random.default_rng(0).integers(0, 256, (10, 6, 6, 3), "uint8")
    labels = np.arange(10) % 4
    info = load_dataset((images, labels), batch_size=10, shuffle=False)
    assert info.num_classes == 4
    ((pair_images, pair_labels),) = _batches(info)
    np.testing.assert_allclose(pair_images, images / 127.5 - 1, atol=1e-6)
    with pytest.raises(ValueError, match="one per image"):
        load_dataset((images, labels[:5]))

    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(3)
    info = load_dataset(dataset, image_size=4, batch_size=5, shuffle=False)
    assert (info.image_size, info.channels, info.num_examples) == (4, 3, None)
    (first_images, first_labels), _ = _batches(info)
    assert first_images.shape == (5, 4, 4, 3)
    assert first_labels.dtype == np.int32
    np.testing.assert_array_equal(first_labels, labels[:5])


def _call_with_timeout(function, timeout_s=30):
    """Runs `function`, failing the test if it hangs (e.g. on the network)."""
    outcome = {}

    def target():
        try:
            outcome["result"] = function()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive(), f"call did not return within {timeout_s}s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def test_tfds_dataset_not_prepared_fails_fast(tmp_path):
    with pytest.raises(RuntimeError) as error:
        _call_with_timeout(lambda: load_dataset("tfds:mnist", data_dir=str(tmp_path)))
    message = str(error.value)
    assert "'mnist' is not prepared" in message
    assert str(tmp_path) in message
    assert "tfds build mnist --data_dir=DIR" in message
    assert not any(tmp_path.iterdir()), "nothing may be downloaded"


def test_tfds_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="Unknown TFDS dataset 'mnistt'.*mnist"):
        _call_with_timeout(lambda: load_dataset("tfds:mnistt", data_dir=str(tmp_path)))


class KsdTinyImages(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A tiny TFDS dataset prepared locally: dark and bright 12x10 images."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(12, 10, 3)),
                    "label": tfds.features.ClassLabel(names=["dark", "bright"]),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {
            "train": self._generate_examples(6),
            "test": self._generate_examples(4),
        }

    def _generate_examples(self, count):
        for index in range(count):
            label = index % 2
            image = np.full((12, 10, 3), 255 * label, "uint8")
            yield index, {"image": image, "label": label}


@pytest.fixture(scope="module")
def tfds_data_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    KsdTinyImages(data_dir=str(data_dir)).download_and_prepare()
    return str(data_dir)


def test_tfds_prepared_dataset_loads(tfds_data_dir):
    info = load_dataset(
        "tfds:ksd_tiny_images:test",
        batch_size=4,
        data_dir=tfds_data_dir,
        channels=1,
    )
    assert info.class_names == ["dark", "bright"]
    assert (info.num_classes, info.num_examples) == (2, 4)
    # The native size is the shorter side of the 12x10 images.
    assert (info.image_size, info.channels) == (10, 1)
    ((images, labels),) = _batches(info)
    assert images.shape == (4, 10, 10, 1)
    assert labels.dtype == np.int32
    np.testing.assert_allclose(images[labels == 0], -1.0, atol=1e-3)
    np.testing.assert_allclose(images[labels == 1], 1.0, atol=1e-3)
    with pytest.raises(ValueError, match=r"no split 'valid'.*'train', 'test'"):
        load_dataset("tfds:ksd_tiny_images:valid", data_dir=tfds_data_dir)
