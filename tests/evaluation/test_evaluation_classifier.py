import os

import keras
import numpy as np
import pytest

from keras_simple_diffusion.evaluation import (
    ImageClassifier,
    default_filters,
    evaluate_samples,
    format_report,
    pooled_pixels,
    train_classifier,
)

# The tests of the trained digits classifier run on one backend (the slow
# tests' SLOW_BACKENDS, tests/conftest.py): its training is the same Keras
# computation on every backend, and the costliest part of this file.
on_one_backend = pytest.mark.slow


def test_image_classifier_shapes_and_config_round_trip():
    model = ImageClassifier(image_size=16, num_channels=3, num_classes=4, feature_dim=8)
    images = np.zeros((3, 16, 16, 3), "float32")
    assert model.predict(images, verbose=0).shape == (3, 4)
    assert model.features(images).shape == (3, 8)
    clone = ImageClassifier.from_config(model.get_config())
    assert clone.get_config() == model.get_config()


@pytest.mark.parametrize(
    "image_size,filters",
    [
        (16, (16, 32, 64)),
        (32, (16, 32, 64)),
        (64, (16, 32, 64, 64)),
        (128, (16, 32, 64, 64, 64)),
    ],
)
def test_default_filters_pool_larger_images_down_to_4_by_4(image_size, filters):
    assert default_filters(image_size) == filters
    assert ImageClassifier(image_size=image_size).filters == filters
    assert image_size // 2 ** len(filters) <= 4


def test_a_cached_classifier_of_other_filters_is_trained_again(digits_split, tmp_path):
    (images, labels), _ = digits_split
    images, labels, path = images[:64, ::2, ::2], labels[:64], str(tmp_path / "c.keras")
    narrow = train_classifier(images, labels, epochs=1, cache_path=path, filters=(8, 8, 8))
    assert narrow.filters == (8, 8, 8)
    assert train_classifier(images, labels, cache_path=path, filters=(8, 8, 8)).filters == (8, 8, 8)
    default = train_classifier(images, labels, epochs=1, cache_path=path)
    assert default.filters == default_filters(16) == keras.saving.load_model(path).filters


@on_one_backend
def test_classifier_reaches_high_held_out_accuracy(digits_split, digits_classifier):
    _, (images, labels) = digits_split
    accuracy = np.mean(digits_classifier.predict_labels(images) == labels)
    assert accuracy >= 0.95, accuracy
    assert digits_classifier.features(images[:5]).shape == (5, 64)


@on_one_backend
def test_classifier_is_cached_as_keras_file(digits_split, digits_classifier, classifier_path):
    (images, labels), (held_out, _) = digits_split
    assert os.path.isfile(classifier_path)
    loaded = train_classifier(images, labels, cache_path=str(classifier_path))
    assert isinstance(loaded, ImageClassifier) and loaded is not digits_classifier
    np.testing.assert_allclose(
        loaded.features(held_out[:16]), digits_classifier.features(held_out[:16]), atol=1e-4
    )
    reloaded = keras.saving.load_model(classifier_path)
    assert reloaded.get_config() == digits_classifier.get_config()
    with pytest.raises(ValueError, match="cached at"):
        train_classifier(images[:, :16, :16], labels, cache_path=str(classifier_path))


@on_one_backend
def test_evaluate_real_held_out_images_scores_like_real_data(digits_split, digits_classifier):
    _, (images, labels) = digits_split
    metrics = evaluate_samples(
        images[:200], labels[:200], images[200:], classifier=digits_classifier, num_kid_subsets=10
    )
    assert metrics["num_samples"] == 200 and metrics["num_real"] == 400
    assert metrics["num_compared"] == 200
    assert metrics["class_accuracy"] >= 0.95
    assert metrics["fd_ratio"] < 2.0, metrics
    assert metrics["fd_ratio"] == pytest.approx(
        metrics["frechet_distance"] / metrics["real_frechet_distance"]
    )
    assert abs(metrics["kid"]) < 0.5
    assert metrics["pixel_fd_ratio"] < 2.0, metrics
    assert metrics["pixel_fd_ratio"] == pytest.approx(
        metrics["pixel_frechet_distance"] / metrics["real_pixel_frechet_distance"]
    )

    assert metrics["real_class_accuracy"] is None and metrics["relative_class_accuracy"] is None

    report = format_report(metrics)
    assert "class accuracy" in report and "FD ratio" in report and "pooled pixels" in report
    assert len(report.splitlines()) == 12
    averaged = format_report({**metrics, "reference_draws": 4, "fd_ratio_range": [0.5, 1.25]})
    assert "averaged over 4 draws of the real sets" in averaged
    assert any(
        line.startswith("FD ratio, range over draws") and line.endswith("  0.5 to 1.25")
        for line in averaged.splitlines()
    )


@on_one_backend
def test_a_held_out_reference_gives_real_accuracy_and_a_train_baseline(
    digits_split, digits_classifier
):
    (train_images, _), (images, labels) = digits_split
    arguments = dict(
        samples=images[:100],
        sample_labels=labels[:100],
        real_images=images[100:],
        real_labels=labels[100:],
        classifier=digits_classifier,
        num_kid_subsets=10,
        other_real_images=train_images[:150],
    )
    metrics = evaluate_samples(**arguments)
    # n is capped by the samples, the reference and the other real images.
    assert metrics["num_compared"] == 100
    predicted = digits_classifier.predict_labels(images[100:])
    # The real accuracy is read on the n reference images drawn from images[100:].
    assert 0.9 <= metrics["real_class_accuracy"] <= 1.0
    assert abs(metrics["real_class_accuracy"] - np.mean(predicted == labels[100:])) < 0.05
    assert metrics["relative_class_accuracy"] == pytest.approx(
        metrics["class_accuracy"] / metrics["real_class_accuracy"]
    )
    # Real test images scored as samples against a held-out reference.
    assert metrics["fd_ratio"] < 2.0 and metrics["pixel_fd_ratio"] < 2.0, metrics
    averaged = evaluate_samples(**arguments, reference_draws=4)
    assert averaged["reference_draws"] == 4
    # The one draw above is the first of the four; accuracy is read on it.
    assert averaged["real_class_accuracy"] == metrics["real_class_accuracy"]
    for space in ("fd_ratio", "pixel_fd_ratio"):
        low, high = averaged[f"{space}_range"]
        assert low <= metrics[space] <= high and low < high, (space, averaged)
    few = evaluate_samples(
        images[:100],
        None,
        images[100:],
        classifier=digits_classifier,
        num_kid_subsets=5,
        other_real_images=train_images[:30],
    )
    assert few["num_compared"] == 30


@on_one_backend
def test_evaluate_noise_scores_badly(digits_split, digits_classifier):
    _, (images, labels) = digits_split
    noise = np.random.default_rng(0).uniform(-1.0, 1.0, size=(200, 32, 32, 1)).astype("float32")
    metrics = evaluate_samples(
        noise, labels[:200], images[200:], classifier=digits_classifier, num_kid_subsets=10
    )
    assert metrics["class_accuracy"] < 0.3
    assert metrics["fd_ratio"] > 20.0, metrics
    assert metrics["kid"] > 1.0
    assert metrics["pixel_fd_ratio"] > 20.0, metrics


def test_pooled_pixels_average_blocks_and_crop_what_does_not_divide():
    images = np.arange(2 * 17 * 16 * 3, dtype="float32").reshape(2, 17, 16, 3)
    features = pooled_pixels(images, size=8)
    assert features.shape == (2, 8 * 8 * 3)
    block = images[0, 0:2, 2:4, 1]  # row block 0, column block 1, channel 1
    assert features[0].reshape(8, 8, 3)[0, 1, 1] == pytest.approx(block.mean())
    with pytest.raises(ValueError, match="smaller than 8 x 8"):
        pooled_pixels(images[:, :4, :4], size=8)


@on_one_backend
def test_evaluate_without_labels_and_with_few_real_images(digits_split, digits_classifier):
    _, (images, _) = digits_split
    metrics = evaluate_samples(
        images[:50], None, images[50:110], classifier=digits_classifier, num_kid_subsets=5
    )
    assert metrics["class_accuracy"] is None
    assert metrics["num_compared"] == 30  # capped at half the real images
    assert "n/a" in format_report(metrics)
    with pytest.raises(ValueError, match="real_labels"):
        evaluate_samples(images[:10], None, images[10:30])
    with pytest.raises(ValueError, match="at least 2 samples and 4 real"):
        evaluate_samples(images[:10], None, images[:3], classifier=digits_classifier)
