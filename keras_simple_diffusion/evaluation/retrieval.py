"""Judging samples of a small captioned set (the emoji) without a classifier.

Each sample was drawn from the caption of one real image. Caption retrieval
asks whether the real image nearest to the sample is that one (top-1), or
among the nearest five (top-5), in a feature space that no training touched:
colour pixels average-pooled to 16 x 16. Two Frechet distances, each over
its real-vs-real figure, judge the set as a whole: pooled 8 x 8 pixels
(layout and colour) and patches of 8 x 8 pixels cut at full resolution
(edges, strokes and texture, which pooling averages away).
"""

import numpy as np

from keras_simple_diffusion.evaluation.evaluate import pooled_pixels
from keras_simple_diffusion.evaluation.metrics import (
    draw_comparison_sets,
    frechet_distance_ratio,
)

RETRIEVAL_POOL_SIZE = 16
PATCH_SIZE = 8
PATCHES_PER_IMAGE = 16


def caption_sample_indices(num_images, num_samples, seed):
    """Which real image's caption each of `num_samples` samples is drawn
    from: the images in a seeded order, all of them before any repeats."""
    order = np.random.default_rng(seed).permutation(num_images)
    return np.resize(order, num_samples)


def caption_retrieval(samples, caption_indices, real_images, top=(1, 5)):
    """The fraction of samples whose own real image is among the `k` real
    images nearest to them (Euclidean, pooled 16 x 16 pixels), for each `k`.

    Args:
        samples: images `(N, H, W, C)` in [-1, 1], each drawn from the
            caption of `real_images[caption_indices[i]]`.
        caption_indices: int array `(N,)` into `real_images`.
        real_images: every real image `(M, H, W, C)` whose caption may have
            been asked for.
        top: the `k` to report.

    Returns:
        `{"top1_retrieval": ..., "top5_retrieval": ...}`.
    """
    caption_indices = np.asarray(caption_indices)
    if len(caption_indices) != len(samples):
        raise ValueError(
            f"Need one caption index per sample: {len(caption_indices)} for {len(samples)}."
        )
    sample_features = pooled_pixels(samples, RETRIEVAL_POOL_SIZE)
    real_features = pooled_pixels(real_images, RETRIEVAL_POOL_SIZE)
    distances = (
        np.sum(sample_features**2, axis=1, keepdims=True)
        - 2.0 * sample_features @ real_features.T
        + np.sum(real_features**2, axis=1)
    )
    own = distances[np.arange(len(samples)), caption_indices]
    # The rank of a sample's own image: how many real images are nearer.
    rank = np.sum(distances < own[:, None], axis=1)
    return {f"top{k}_retrieval": float(np.mean(rank < k)) for k in top}


def random_patches(images, seed, size=PATCH_SIZE, per_image=PATCHES_PER_IMAGE):
    """`per_image` patches of `size x size` pixels from each image, at
    positions drawn with `seed`, flattened: `(N * per_image, size * size * C)`."""
    images = np.asarray(images, dtype="float32")
    count, height, width, channels = images.shape
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, height - size + 1, (count, per_image))
    columns = rng.integers(0, width - size + 1, (count, per_image))
    offsets = np.arange(size)
    image_index = np.arange(count)[:, None, None, None]
    patches = images[
        image_index,
        rows[..., None, None] + offsets[:, None],
        columns[..., None, None] + offsets[None, :],
    ]
    return patches.reshape(count * per_image, size * size * channels)


def distance_metrics(samples, real_images, seed=0, reference_draws=1):
    """The two distance ratios of `samples` (pooled pixels and full-resolution
    patches), whatever drew them: captioned or unconditional samples.

    They compare `n = min(len(samples), len(real_images) // 2)` samples with
    `n` real images, next to `n` other real images compared with the same
    `n`: the real-vs-real figure a perfect generator scores. Both distances
    are averaged over `reference_draws` draws of the two real sets
    (`metrics.draw_comparison_sets`; `metrics.frechet_distance_ratio` gives
    the keys).
    """
    samples = np.asarray(samples, dtype="float32")
    real_images = np.asarray(real_images, dtype="float32")
    count = min(len(samples), len(real_images) // 2)
    if count < 2:
        raise ValueError(
            f"Need at least 2 samples and 4 real images; got {len(samples)} and {len(real_images)}."
        )
    sample_indices, draws = draw_comparison_sets(
        seed, len(samples), len(real_images), count, reference_draws
    )
    compared = samples[sample_indices]
    pixel_draws, patch_draws = [], []
    for reference_indices, other_indices in draws:
        reference, other = real_images[reference_indices], real_images[other_indices]
        pixel_draws.append((pooled_pixels(reference), pooled_pixels(other)))
        patch_draws.append((random_patches(reference, seed), random_patches(other, seed + 2)))
    return {
        **frechet_distance_ratio(pooled_pixels(compared), pixel_draws, prefix="pixel_"),
        **frechet_distance_ratio(random_patches(compared, seed + 1), patch_draws, prefix="patch_"),
        "num_samples": len(samples),
        "num_real": len(real_images),
        "num_compared": count,
        "reference_draws": reference_draws,
    }


def evaluate_captioned_samples(samples, caption_indices, real_images, seed=0, reference_draws=1):
    """Caption retrieval and the two distance ratios (`distance_metrics`) of
    samples drawn from the captions of `real_images`."""
    metrics = distance_metrics(samples, real_images, seed, reference_draws)
    return {**caption_retrieval(samples, caption_indices, real_images), **metrics}
