"""Caption retrieval and the patch space, on images the test makes."""

import numpy as np
import pytest

from keras_simple_diffusion.evaluation.evaluate import pooled_pixels
from keras_simple_diffusion.evaluation.metrics import frechet_distance
from keras_simple_diffusion.evaluation.retrieval import (
    caption_retrieval,
    caption_sample_indices,
    distance_metrics,
    evaluate_captioned_samples,
    random_patches,
)


@pytest.fixture(scope="module")
def real_images():
    """60 distinct smooth colour images: random 4 x 4 colour fields, upsampled."""
    rng = np.random.default_rng(0)
    fields = rng.uniform(-1.0, 1.0, (60, 4, 4, 3)).astype("float32")
    return np.repeat(np.repeat(fields, 8, axis=1), 8, axis=2)


def test_each_real_image_retrieves_itself_and_wrong_ones_do_not(real_images):
    indices = np.arange(0, 60, 2)
    assert caption_retrieval(real_images[indices], indices, real_images) == {
        "top1_retrieval": 1.0,
        "top5_retrieval": 1.0,
    }
    shifted = (indices + 1) % 60
    assert caption_retrieval(real_images[indices], shifted, real_images)["top5_retrieval"] < 0.2
    with pytest.raises(ValueError, match="one caption index per sample"):
        caption_retrieval(real_images[:3], indices, real_images)


def test_captions_are_asked_for_each_image_before_any_repeats():
    indices = caption_sample_indices(5, 12, seed=3)
    assert sorted(indices[:5]) == [0, 1, 2, 3, 4] and sorted(indices[5:10]) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(indices[10:], indices[:2])
    np.testing.assert_array_equal(indices, caption_sample_indices(5, 12, seed=3))
    assert not np.array_equal(indices[:5], caption_sample_indices(5, 5, seed=4))


def test_patches_are_cut_at_full_resolution():
    images = np.arange(2 * 10 * 12 * 1, dtype="float32").reshape(2, 10, 12, 1)
    patches = random_patches(images, seed=0, size=3, per_image=4)
    assert patches.shape == (8, 9)
    # Each patch is a contiguous 3 x 3 window of its own image.
    for index, patch in enumerate(patches.reshape(8, 3, 3)):
        image = images[index // 4, ..., 0]
        row, column = np.argwhere(image == patch[0, 0])[0]
        np.testing.assert_array_equal(image[row : row + 3, column : column + 3], patch)


def test_noise_shows_in_patches_more_than_in_pooled_pixels(real_images):
    indices = np.arange(30)
    clean = evaluate_captioned_samples(real_images[indices], indices, real_images)
    rng = np.random.default_rng(1)
    noisy_images = np.clip(real_images[indices] + rng.normal(0, 0.3, (30, 32, 32, 3)), -1, 1)
    noisy = evaluate_captioned_samples(noisy_images, indices, real_images)
    assert clean["num_compared"] == 30 and clean["patch_fd_ratio"] < 2.0
    assert noisy["top1_retrieval"] == 1.0  # still its own image, nearest
    patch_growth = noisy["patch_fd_ratio"] / clean["patch_fd_ratio"]
    pixel_growth = noisy["pixel_fd_ratio"] / clean["pixel_fd_ratio"]
    assert patch_growth > 2.5 and patch_growth > 2 * pixel_growth, (patch_growth, pixel_growth)


def test_real_images_of_the_report_follow_the_samples_labels():
    from keras_simple_diffusion.training.assessment import matching_labels

    real_labels = np.array([2, 0, 1, 0, 2, 1, 0])
    picked = matching_labels(real_labels, np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]))
    np.testing.assert_array_equal(real_labels[picked], [0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    # Each class's real images in turn, then again from the first.
    np.testing.assert_array_equal(picked, [1, 2, 0, 3, 5, 4, 6, 2, 0, 1])


@pytest.fixture(scope="module")
def mixed_images():
    """A set like the emoji: mostly flat images, a few of sharp noise, so
    that which ones a real set holds moves its patch statistics."""
    rng = np.random.default_rng(3)
    flat = np.repeat(np.repeat(rng.uniform(-1, 1, (190, 2, 2, 1)), 8, axis=1), 8, axis=2)
    sharp = rng.uniform(-1, 1, (10, 16, 16, 1))
    return np.concatenate([flat, sharp]).astype("float32")[rng.permutation(200)]


def test_one_draw_compares_the_seeds_first_split_of_the_real_images(mixed_images):
    samples = mixed_images[::-1][:60]
    metrics = distance_metrics(samples, mixed_images, seed=4, reference_draws=1)
    rng = np.random.default_rng(4)
    order = rng.permutation(200)
    reference, other = mixed_images[order[:60]], mixed_images[order[60:120]]
    compared = samples[rng.permutation(60)]
    assert metrics["real_pixel_frechet_distance"] == pytest.approx(
        frechet_distance(pooled_pixels(other), pooled_pixels(reference))
    )
    assert metrics["patch_frechet_distance"] == pytest.approx(
        frechet_distance(random_patches(compared, 5), random_patches(reference, 4))
    )
    assert metrics["patch_fd_ratio_range"] == [metrics["patch_fd_ratio"]] * 2
    assert metrics["reference_draws"] == 1


def test_more_draws_steady_the_ratio_against_the_draw_of_the_real_sets(mixed_images):
    samples = mixed_images[::-1][:60]

    def over_seeds(draws):
        metrics = [distance_metrics(samples, mixed_images, seed, draws) for seed in range(6)]
        return (
            np.array([m["patch_fd_ratio"] for m in metrics]),
            np.array([m["real_patch_frechet_distance"] for m in metrics]),
        )

    (one_ratio, one_real), (many_ratio, many_real) = over_seeds(1), over_seeds(8)
    assert np.std(many_ratio) < 0.5 * np.std(one_ratio), (one_ratio, many_ratio)
    assert np.std(many_real) < 0.5 * np.std(one_real), (one_real, many_real)
    ranges = [distance_metrics(samples, mixed_images, 0, 8)["patch_fd_ratio_range"]]
    assert ranges[0][0] < many_ratio[0] < ranges[0][1]
