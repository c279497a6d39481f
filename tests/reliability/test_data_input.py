"""Bad data files and names fail at load with a one-line message; embedded data at any size."""

import pickle

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_simple_diffusion.data import load_dataset, make_shapes


def test_npz_of_random_bytes_is_not_a_valid_npz(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 500, "uint8").tobytes())
    with pytest.raises(
        ValueError, match=r"noise.npz' is not a valid .npz of images \(and labels\)"
    ):
        load_dataset(path, batch_size=1)


def test_npz_needing_unpickling_is_refused_without_mentioning_allow_pickle(tmp_path):
    path = tmp_path / "objects.npz"
    images = np.empty(2, dtype=object)
    images[:] = [np.zeros((4, 4)), np.zeros((4, 4))]
    np.savez(path, images=images)
    with pytest.raises(
        ValueError, match=r"objects.npz' is not a valid .npz.*needs unpickling"
    ) as error:
        load_dataset(path, batch_size=1)
    assert "allow_pickle" not in str(error.value)
    # A pickle saved under an .npz name is refused the same way, never unpickled.
    (tmp_path / "pickled.npz").write_bytes(pickle.dumps({"images": np.zeros((2, 4, 4))}))
    with pytest.raises(ValueError, match=r"pickled.npz' is not a valid .npz.*needs unpickling"):
        load_dataset(tmp_path / "pickled.npz", batch_size=1)


def test_npy_file_named_npz_is_refused(tmp_path):
    path = tmp_path / "single.npz"
    with open(path, "wb") as file:
        np.save(file, np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="single.npz' is not a valid .npz.*single .npy array"):
        load_dataset(path, batch_size=1)


def test_non_square_npz_fails_at_load_pointing_to_image_size(tmp_path):
    path = tmp_path / "wide.npz"
    np.savez(path, images=np.zeros((4, 20, 24, 3), "uint8"))
    with pytest.raises(ValueError, match=r"wide.npz' are 20x24, not square.*--image-size"):
        load_dataset(path, batch_size=2)
    info = load_dataset(path, image_size=16, batch_size=2)
    assert info.images.shape == (4, 16, 16, 3)


def test_nan_pixels_are_refused():
    images = np.zeros((4, 8, 8, 1), "float32") - 0.5
    images[2, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"hold 1 non-finite value\(s\)"):
        load_dataset((images, np.arange(4)), batch_size=2)


def test_huge_sparse_label_does_not_build_a_huge_class_count(tmp_path):
    path = tmp_path / "sparse.npz"
    np.savez(path, images=np.zeros((2, 4, 4), "uint8"), labels=np.array([0, 50_000]))
    with pytest.raises(
        ValueError, match=r"sparse.npz', labels range 0..50000 but only 2 distinct values appear"
    ):
        load_dataset(path, batch_size=1)


@pytest.fixture
def offline_tfds(monkeypatch):
    """Fails the test if TFDS consults its remote community dataset index."""

    def remote_index():
        raise AssertionError("the TFDS community index (on GCS) was consulted")

    monkeypatch.setattr(tfds.core.community, "community_register", remote_index)


def _fake_prepared_dataset(data_dir, *folders):
    version_dir = data_dir.joinpath(*folders)
    version_dir.mkdir(parents=True)
    (version_dir / "dataset_info.json").write_text("{}")


def test_unknown_tfds_name_lists_local_datasets_without_network(tmp_path, offline_tfds):
    _fake_prepared_dataset(tmp_path, "my_faces", "1.0.0")
    _fake_prepared_dataset(tmp_path, "cifar10_corrupted", "brightness_1", "1.0.0")
    with pytest.raises(ValueError) as error:
        load_dataset("tfds:my_facez", data_dir=str(tmp_path))
    message = str(error.value)
    assert "Unknown TFDS dataset 'my_facez'. Did you mean one of ['my_faces']?" in message
    assert f"Prepared in '{tmp_path}': cifar10_corrupted/brightness_1, my_faces." in message


def test_unknown_tfds_name_uses_tfds_data_dir(tmp_path, monkeypatch, offline_tfds):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=f"No TFDS dataset is prepared in '{tmp_path}'"):
        load_dataset("tfds:not_a_dataset_anywhere")


def test_registered_tfds_name_not_prepared_says_what_is_local(tmp_path, offline_tfds):
    _fake_prepared_dataset(tmp_path, "my_faces", "1.0.0")
    with pytest.raises(RuntimeError, match=r"'mnist' is not prepared.*Prepared in .*: my_faces\."):
        load_dataset("tfds:mnist", data_dir=str(tmp_path))


def _edge_pixels(images):
    """Pixels whose 4-neighbourhood is not uniform: the outline of each shape."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    centre = padded[:, 1:-1, 1:-1]
    neighbours = (
        padded[:, :-2, 1:-1],
        padded[:, 2:, 1:-1],
        padded[:, 1:-1, :-2],
        padded[:, 1:-1, 2:],
    )
    return np.any([np.abs(centre - other) > 1e-3 for other in neighbours], axis=0)


def test_shapes_at_64_px_are_drawn_at_that_size_and_anti_aliased():
    info = load_dataset("shapes:16", image_size=64, batch_size=16, shuffle=False)
    drawn = info.images
    assert drawn.shape == (16, 64, 64, 3)
    small, _, _ = make_shapes(16, image_size=32, seed=0)
    edges = _edge_pixels(drawn)
    for method in ("nearest", "bilinear"):
        upsampled = tf.image.resize(small, (64, 64), method).numpy()
        # The same scenes (same attributes and relative placement) ...
        assert np.abs(drawn - upsampled)[~edges].mean() < 0.05
        # ... but the outlines differ from an upsample of the 32 px drawing.
        assert np.abs(drawn - upsampled)[edges].mean() > 0.1
    # Anti-aliased: the outlines hold values between background and colour,
    # in a band about one pixel wide (bilinear upsampling blurs two).
    partial = (drawn > -0.99) & (drawn < 0.99)
    assert partial[edges].mean() > 0.2
    bilinear = tf.image.resize(small, (64, 64), "bilinear").numpy()
    assert partial.sum() < ((bilinear > -0.99) & (bilinear < 0.99)).sum()


def test_digits_at_128_px():
    info = load_dataset("digits", image_size=128, batch_size=64, shuffle=False)
    assert info.images.shape == (1797, 128, 128, 1)
    assert (info.image_size, info.channels, info.num_classes) == (128, 1, 10)
    assert info.images.min() == pytest.approx(-1.0, abs=1e-3)
    assert info.images.max() == pytest.approx(1.0, abs=1e-3)
    images, labels = next(iter(info.dataset))
    assert images.shape == (64, 128, 128, 1)
    np.testing.assert_array_equal(labels, info.labels[:64])
