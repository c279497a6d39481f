import numpy as np
import pytest
import sklearn.datasets

from keras_simple_diffusion.data import load_digits, standardize_images, train_test_split


def test_load_digits_shapes_dtypes_and_range():
    images, labels = load_digits(image_size=32)
    assert images.shape == (1797, 32, 32, 1)
    assert images.dtype == np.float32
    assert labels.shape == (1797,)
    assert labels.dtype == np.int32
    assert images.min() == pytest.approx(-1.0)
    assert images.max() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_array_equal(np.unique(labels), np.arange(10))


def test_load_digits_upsampling_preserves_the_original_pixels():
    images, _ = load_digits(image_size=32)
    original = sklearn.datasets.load_digits().images / 8.0 - 1.0
    # Averaging each 4x4 block of the upsampled digit gives back the 8x8
    # one, up to the blur of bilinear interpolation (a flipped digit is off
    # by about 0.4).
    pooled = images[..., 0].reshape(1797, 8, 4, 8, 4).mean(axis=(2, 4))
    assert np.abs(pooled - original).mean() < 0.2
    assert np.corrcoef(pooled.ravel(), original.ravel())[0, 1] > 0.95


def test_load_digits_rejects_non_positive_size():
    with pytest.raises(ValueError, match="image_size"):
        load_digits(image_size=0)


def test_standardize_images_crops_to_square_and_converts_channels():
    # Left half black, right half white, on a non-square uint8 image.
    image = np.zeros((8, 16, 3), "uint8")
    image[:, 8:] = 255
    result = standardize_images(image, image_size=4, channels=1).numpy()
    assert result.shape == (4, 4, 1)
    # The centre crop (columns 4..11) is half black, half white.
    np.testing.assert_allclose(result[:, 0, 0], -1.0, atol=1e-3)
    np.testing.assert_allclose(result[:, -1, 0], 1.0, atol=1e-3)


def test_train_test_split_is_deterministic_disjoint_and_stratified():
    images, labels = load_digits(image_size=8)
    ids = np.arange(len(images))
    (train_ids, train_labels), (test_ids, test_labels) = train_test_split(
        ids, labels, test_fraction=0.25, seed=3
    )
    (again_ids, _), _ = train_test_split(ids, labels, test_fraction=0.25, seed=3)
    (other_ids, _), _ = train_test_split(ids, labels, test_fraction=0.25, seed=4)
    np.testing.assert_array_equal(train_ids, again_ids)
    assert not np.array_equal(train_ids, other_ids)
    assert len(test_ids) == pytest.approx(0.25 * len(ids), abs=1)
    assert not set(train_ids) & set(test_ids)
    np.testing.assert_array_equal(labels[train_ids], train_labels)
    train_share = np.bincount(train_labels) / len(train_labels)
    test_share = np.bincount(test_labels) / len(test_labels)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)


def test_train_test_split_without_labels_and_bad_fraction():
    (train, train_labels), (test, test_labels) = train_test_split(
        np.arange(10), test_fraction=0.3, seed=0
    )
    assert train_labels is None and test_labels is None
    assert sorted(np.concatenate([train, test])) == list(range(10))
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split(np.arange(10), test_fraction=1.0)
