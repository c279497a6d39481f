"""Distribution distances between two sets of feature vectors (NumPy only).

Both metrics compare sets of features, e.g. from the penultimate layer of a
classifier or from InceptionV3 (then they are the FID and the KID). They take
arrays of shape ``(num_examples, num_features)``.
"""

import numpy as np
import scipy.linalg

from keras_simple_diffusion.checks import check_positive_int


def _as_features(name, features):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(
            f"`{name}` must have shape (num_examples >= 2, num_features). "
            f"Received: {name}.shape={features.shape}"
        )
    return features


def _check_same_dim(features_a, features_b):
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            "`features_a` and `features_b` must have the same number of features. "
            f"Received: {features_a.shape[1]} and {features_b.shape[1]}"
        )


def frechet_distance(features_a, features_b, eps=1e-6):
    """Frechet distance between Gaussians fitted to two sets of features.

    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` with sample means
    ``mu`` and (unbiased) sample covariances ``S``. This is the FID when the
    features come from InceptionV3. If the matrix square root is not finite
    (near-singular covariances, e.g. fewer examples than features), ``eps``
    is added to the diagonal of both covariances and it is recomputed; the
    negligible imaginary part left by ``scipy.linalg.sqrtm`` is dropped.

    Args:
        features_a: array of shape `(num_a, num_features)`.
        features_b: array of shape `(num_b, num_features)`.
        eps: diagonal offset used when the square root is not finite.

    Returns:
        The distance as a Python float (>= 0 up to round-off).

    Example:
    >>> a = np.random.default_rng(0).normal(size=(500, 4))
    >>> abs(frechet_distance(a, a)) < 1e-6
    True
    """
    features_a = _as_features("features_a", features_a)
    features_b = _as_features("features_b", features_b)
    _check_same_dim(features_a, features_b)
    mu_a, mu_b = features_a.mean(axis=0), features_b.mean(axis=0)
    sigma_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    sigma_b = np.atleast_2d(np.cov(features_b, rowvar=False))

    covmean = scipy.linalg.sqrtm(sigma_a @ sigma_b)
    if not np.isfinite(covmean).all():
        offset = eps * np.eye(sigma_a.shape[0])
        covmean = scipy.linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
    covmean = np.real(covmean)

    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean))


def _polynomial_mmd2_unbiased(x, y):
    """Unbiased MMD^2 with the kernel ``k(x, y) = (x.y / d + 1)^3``."""
    m, dim = x.shape
    z = np.concatenate([x, y])
    kernel = (z @ z.T / dim + 1.0) ** 3
    np.fill_diagonal(kernel, 0.0)
    k_xx, k_yy, k_xy = kernel[:m, :m], kernel[m:, m:], kernel[:m, m:]
    return (k_xx.sum() + k_yy.sum()) / (m * (m - 1)) - 2.0 * k_xy.mean()


def kernel_inception_distance(features_a, features_b, num_subsets=100, subset_size=1000, seed=0):
    """Kernel distance (KID) between two sets of features.

    The unbiased estimator of the squared maximum mean discrepancy with the
    cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3`` (Binkowski et al.
    2018, "Demystifying MMD GANs"), averaged over `num_subsets` random subsets
    of `subset_size` examples drawn without replacement from each set. Being
    unbiased, it is close to 0 (and can be slightly negative) for two samples
    of the same distribution, whatever their size.

    Args:
        features_a: array of shape `(num_a, num_features)`.
        features_b: array of shape `(num_b, num_features)`.
        num_subsets: number of random subsets to average over.
        subset_size: examples per subset; capped at the size of the smaller
            set.
        seed: seed of the NumPy generator that draws the subsets.

    Returns:
        The mean MMD^2 estimate over subsets, as a Python float.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 1.0
    >>> kernel_inception_distance(a, b, num_subsets=10, subset_size=100) > 0.1
    True
    """
    features_a = _as_features("features_a", features_a)
    features_b = _as_features("features_b", features_b)
    _check_same_dim(features_a, features_b)
    if num_subsets < 1:
        raise ValueError(f"`num_subsets` must be >= 1. Received: num_subsets={num_subsets}")
    subset_size = min(subset_size, len(features_a), len(features_b))
    if subset_size < 2:
        raise ValueError(f"`subset_size` must be >= 2. Received: subset_size={subset_size}")
    rng = np.random.default_rng(seed)
    estimates = [
        _polynomial_mmd2_unbiased(
            features_a[rng.choice(len(features_a), subset_size, replace=False)],
            features_b[rng.choice(len(features_b), subset_size, replace=False)],
        )
        for _ in range(num_subsets)
    ]
    return float(np.mean(estimates))


def draw_comparison_sets(seed, num_samples, num_real, count, reference_draws=1, num_other=None):
    """Which samples and real images a distance ratio compares.

    Each of `reference_draws` draws picks `count` reference images from the
    `num_real` real images and `count` others to compare with them: from
    the rest of those images, or from a second set of `num_other` images
    (e.g. a training split next to a test split). The first draw and the
    `count` compared samples do not depend on `reference_draws`: more
    draws add pairs to the one pair that `reference_draws=1` compares.

    Returns:
        `(sample_indices, draws)`: `count` indices into the samples, and a
        list of `(reference_indices, other_indices)` arrays.
    """
    check_positive_int("reference_draws", reference_draws)
    rng = np.random.default_rng(seed)

    def draw():
        order = rng.permutation(num_real)
        if num_other is None:
            return order[:count], order[count : 2 * count]
        return order[:count], rng.permutation(num_other)[:count]

    first = draw()
    sample_indices = rng.permutation(num_samples)[:count]
    return sample_indices, [first] + [draw() for _ in range(reference_draws - 1)]


def frechet_distance_ratio(compared, draws, prefix=""):
    """The Frechet distance of `compared` features to real ones, over the
    real-vs-real distance of the same images, averaged over draws of the
    real sets.

    Args:
        compared: features of the samples.
        draws: `(reference, other)` feature pairs of real images.
        prefix: what the keys start with ("pixel_", "patch_").

    Returns:
        `{prefix}frechet_distance` (the mean distance of `compared` to each
        reference), `real_{prefix}frechet_distance` (the mean distance of
        each `other` to its reference: what a perfect generator scores),
        `{prefix}fd_ratio` (their ratio, 1 = as close as real images) and
        `{prefix}fd_ratio_range` (the lowest and highest ratio of one draw).

    Example:
    >>> rng = np.random.default_rng(0)
    >>> real = [(rng.normal(size=(200, 3)), rng.normal(size=(200, 3))) for _ in range(4)]
    >>> ratio = frechet_distance_ratio(rng.normal(size=(200, 3)) + 1.0, real)["fd_ratio"]
    >>> bool(ratio > 5)
    True
    """
    sample_distances, real_distances = [], []
    for reference, other in draws:
        sample_distances.append(frechet_distance(compared, reference))
        real_distances.append(frechet_distance(other, reference))
    sample_distance, real_distance = np.mean(sample_distances), np.mean(real_distances)
    ratios = np.divide(sample_distances, real_distances)
    return {
        f"{prefix}frechet_distance": float(sample_distance),
        f"real_{prefix}frechet_distance": float(real_distance),
        f"{prefix}fd_ratio": float(sample_distance / real_distance),
        f"{prefix}fd_ratio_range": [float(ratios.min()), float(ratios.max())],
    }
