"""Sample quality in the feature space of a classifier trained on the real data."""

import numpy as np

from keras_simple_diffusion.evaluation.classifier import train_classifier
from keras_simple_diffusion.evaluation.metrics import (
    draw_comparison_sets,
    frechet_distance_ratio,
    kernel_inception_distance,
)

# The side of the pooled-pixel feature space: coarse enough that its
# covariance is well estimated from a few hundred images (64 numbers a
# channel), fine enough to see a digit's stroke layout.
POOLED_PIXELS_SIZE = 8


def pooled_pixels(images, size=POOLED_PIXELS_SIZE):
    """Images `(N, H, W, C)` average-pooled to `size x size`, flattened.

    A feature space that shares nothing with the classifier: no training,
    no network, so it cannot grade samples kindly because of how the
    classifier was fitted. Sides that `size` does not divide are cropped
    to the largest multiple first.
    """
    images = np.asarray(images, dtype="float32")
    count, height, width, channels = images.shape
    if min(height, width) < size:
        raise ValueError(f"Images of {height} x {width} are smaller than {size} x {size}.")
    block_h, block_w = height // size, width // size
    images = images[:, : block_h * size, : block_w * size]
    pooled = images.reshape(count, size, block_h, size, block_w, channels).mean(axis=(2, 4))
    return pooled.reshape(count, -1)


def pooled_pixel_metrics(samples, reference, real_other):
    """The FD of `samples` to `reference` in pooled pixels
    (`pixel_frechet_distance`), that of `real_other`, what a perfect
    generator would score with as many images
    (`real_pixel_frechet_distance`), and their ratio (`pixel_fd_ratio`):
    `metrics.frechet_distance_ratio` over one pair of real sets."""
    draws = [(pooled_pixels(reference), pooled_pixels(real_other))]
    return frechet_distance_ratio(pooled_pixels(samples), draws, prefix="pixel_")


def evaluate_samples(
    samples,
    sample_labels,
    real_images,
    real_labels=None,
    classifier=None,
    cache_path=None,
    num_kid_subsets=100,
    kid_subset_size=1000,
    seed=0,
    other_real_images=None,
    reference_draws=1,
):
    """Scores generated samples against real images with an `ImageClassifier`.

    Frechet distances depend strongly on the number of images, so the
    comparison is made fair: `n = min(len(samples), len(real_images) // 2)`
    samples are compared with a reference set of `n` real images, and a
    second, disjoint set of `n` real images is compared with the same
    reference. That real-vs-real figure is what a perfect generator would
    score, and `fd_ratio` (samples-vs-real over real-vs-real) is close to 1
    for samples as good as real data. The same holds for the KID. Both
    distances are averaged over `reference_draws` draws of the two real
    sets (`metrics.draw_comparison_sets`), since one pair of real sets moves
    the real-vs-real figure by tens of percent.

    The same images are also compared in a second, independent feature
    space, pixels average-pooled to 8 x 8 (`pooled_pixels`), with its own
    real-vs-real reference: `pixel_fd_ratio`.

    Ideally `real_images` were not used to train the classifier (e.g. a test
    split); features of its training images are slightly more regular. With
    `other_real_images` (e.g. the training split), the real-vs-real figure
    compares `n` of them with the `n` reference images, so that every real
    image of the reference set can be held out.

    Args:
        samples: generated images `(N, H, W, C)` in [-1, 1].
        sample_labels: int array `(N,)` of the labels the samples were
            conditioned on, or None for unconditional samples.
        real_images: real images `(M, H, W, C)` in [-1, 1], M >= 4.
        real_labels: int array `(M,)`: trains a classifier when none is
            given, and gives `real_class_accuracy`, the classifier's accuracy
            on the reference real images, against which `class_accuracy` is
            read (`relative_class_accuracy`).
        classifier: a trained `ImageClassifier`. If None, one is trained on
            `real_images` and `real_labels` with `train_classifier` (or loaded
            from `cache_path`).
        cache_path: `.keras` file caching the classifier trained when
            `classifier` is None.
        num_kid_subsets: subsets averaged by the KID.
        kid_subset_size: examples per KID subset (capped at `n`).
        seed: seed of the subset selection (and of classifier training).
        other_real_images: real images `(K, H, W, C)` compared with the
            reference for the real-vs-real figures, or None to take them
            from `real_images`.
        reference_draws: draws of the real sets the distances average
            over (`evaluate` takes `EVALUATION_REFERENCE_DRAWS`); 1 compares
            with one pair of real sets. The KID's subsets are shared out
            among the draws.

    Returns:
        A dict with `class_accuracy` (fraction of samples classified as their
        label; None without `sample_labels`), `real_class_accuracy` and
        `relative_class_accuracy` (None without `real_labels`),
        `frechet_distance`, `real_frechet_distance`, `fd_ratio`,
        `fd_ratio_range` (the lowest and highest ratio of one draw), `kid`,
        `real_kid`, the same four figures in pooled pixels (`pixel_...`),
        `num_samples`, `num_real`, `num_compared` (`n`) and
        `reference_draws`.

    Example:
    >>> metrics = evaluate_samples(  # doctest: +SKIP
    ...     samples, labels, test_images, classifier=classifier
    ... )
    >>> print(format_report(metrics))  # doctest: +SKIP
    """
    samples = np.asarray(samples, dtype="float32")
    real_images = np.asarray(real_images, dtype="float32")
    if other_real_images is None:
        num_compared = min(len(samples), len(real_images) // 2)
    else:
        other_real_images = np.asarray(other_real_images, dtype="float32")
        num_compared = min(len(samples), len(real_images), len(other_real_images))
    if num_compared < 2:
        raise ValueError(
            "Need at least 2 samples and 4 real images (2 and 2 with other_real_images). "
            f"Received: {len(samples)} samples and {len(real_images)} real images"
        )
    sample_indices, draws = draw_comparison_sets(
        seed,
        len(samples),
        len(real_images),
        num_compared,
        reference_draws,
        None if other_real_images is None else len(other_real_images),
    )
    if classifier is None:
        if real_labels is None:
            raise ValueError("`real_labels` are needed to train a classifier (classifier=None).")
        classifier = train_classifier(real_images, real_labels, seed=seed, cache_path=cache_path)
    others = real_images if other_real_images is None else other_real_images
    compared_samples = samples[sample_indices]
    compared = classifier.features(compared_samples)
    # Features of each draw, not its images: many draws of large images
    # would not fit in memory.
    feature_draws, pixel_draws = [], []
    for reference_indices, other_indices in draws:
        reference_images, other_images = real_images[reference_indices], others[other_indices]
        feature_draws.append(
            (classifier.features(reference_images), classifier.features(other_images))
        )
        pixel_draws.append((pooled_pixels(reference_images), pooled_pixels(other_images)))

    class_accuracy = real_class_accuracy = relative_class_accuracy = None
    if sample_labels is not None:
        predicted = classifier.predict_labels(samples)
        class_accuracy = float(np.mean(predicted == np.asarray(sample_labels)))
    if real_labels is not None:
        first_reference = draws[0][0]
        predicted = classifier.predict_labels(real_images[first_reference])
        real_class_accuracy = float(np.mean(predicted == np.asarray(real_labels)[first_reference]))
        if class_accuracy is not None and real_class_accuracy > 0:
            relative_class_accuracy = class_accuracy / real_class_accuracy

    kid_subsets = max(num_kid_subsets // reference_draws, 1)

    def kid(features, draw):
        return kernel_inception_distance(features, draw[0], kid_subsets, kid_subset_size, seed)

    return {
        "class_accuracy": class_accuracy,
        "real_class_accuracy": real_class_accuracy,
        "relative_class_accuracy": relative_class_accuracy,
        **frechet_distance_ratio(compared, feature_draws),
        "kid": float(np.mean([kid(compared, draw) for draw in feature_draws])),
        "real_kid": float(np.mean([kid(draw[1], draw) for draw in feature_draws])),
        **frechet_distance_ratio(pooled_pixels(compared_samples), pixel_draws, prefix="pixel_"),
        "num_samples": len(samples),
        "num_real": len(real_images),
        "num_compared": num_compared,
        "reference_draws": reference_draws,
    }


def _format_value(value, fmt="{:.4g}"):
    if value is None:
        return "n/a"
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return " to ".join(fmt.format(v) for v in value)
    return fmt.format(value) if isinstance(value, (int, float)) else str(value)


_REPORT_LINES = (
    ("class_accuracy", "class accuracy", "{:.2%}"),
    ("real_class_accuracy", "class accuracy of real images", "{:.2%}"),
    ("relative_class_accuracy", "class accuracy, samples / real", "{:.3g}"),
    ("frechet_distance", "FD samples vs real", "{:.4g}"),
    ("real_frechet_distance", "FD real vs real (reference)", "{:.4g}"),
    ("fd_ratio", "FD ratio (1 = like real data)", "{:.3g}"),
    ("fd_ratio_range", "FD ratio, range over draws", "{:.3g}"),
    ("kid", "KID samples vs real", "{:.4g}"),
    ("real_kid", "KID real vs real (reference)", "{:.4g}"),
    ("pixel_frechet_distance", "FD, pooled 8x8 pixels", "{:.4g}"),
    ("real_pixel_frechet_distance", "FD, pooled pixels, real vs real", "{:.4g}"),
    ("pixel_fd_ratio", "FD ratio, pooled pixels", "{:.3g}"),
    ("pixel_fd_ratio_range", "FD ratio, pooled pixels, range", "{:.3g}"),
    ("top1_retrieval", "caption retrieval, top-1", "{:.2%}"),
    ("top5_retrieval", "caption retrieval, top-5", "{:.2%}"),
    ("patch_frechet_distance", "FD, 8x8 patches at full size", "{:.4g}"),
    ("real_patch_frechet_distance", "FD, patches, real vs real", "{:.4g}"),
    ("patch_fd_ratio", "FD ratio, patches", "{:.3g}"),
    ("patch_fd_ratio_range", "FD ratio, patches, range", "{:.3g}"),
)


def format_report(metrics):
    """Formats the dict of `evaluate_samples` as a readable multi-line summary.

    Keys it does not know (e.g. an added `"fid"`, a number or a string such
    as "skipped: no InceptionV3 weights") are listed at the end; None values
    are shown as "n/a".

    Args:
        metrics: dict returned by `evaluate_samples`, possibly extended.

    Returns:
        A string, one metric per line.

    Example:
    >>> print(format_report({"class_accuracy": None, "fd_ratio": 1.5}))
    class accuracy                 n/a
    FD ratio (1 = like real data)  1.5
    """
    known = {key for key, _, _ in _REPORT_LINES} | {
        "num_samples",
        "num_real",
        "num_compared",
        "reference_draws",
    }
    rows = []
    draws = metrics.get("reference_draws", 1)
    draws_note = f", averaged over {draws} draws of the real sets" if draws > 1 else ""
    if "num_compared" in metrics:
        rows.append(
            (
                "images",
                f"{metrics['num_samples']} samples, {metrics['num_real']} real; "
                f"distances use {metrics['num_compared']} of each" + draws_note,
            )
        )
    for key, label, fmt in _REPORT_LINES:
        # One draw's range is the ratio itself.
        if key in metrics and not (key.endswith("_range") and draws == 1):
            rows.append((label, _format_value(metrics[key], fmt)))
    for key, value in metrics.items():
        if key not in known:
            rows.append((key, _format_value(value)))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
