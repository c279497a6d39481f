import numpy as np
import pytest

from keras_simple_diffusion.evaluation import frechet_distance, kernel_inception_distance
from keras_simple_diffusion.evaluation.metrics import (
    draw_comparison_sets,
    frechet_distance_ratio,
)


def _with_exact_moments(rng, num, mean, cov):
    """Samples whose sample mean and (ddof=1) covariance are exactly `mean`, `cov`."""
    z = rng.normal(size=(num, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return z @ np.linalg.cholesky(cov).T + mean


def test_frechet_distance_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(0)
    mu_a, mu_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    a = _with_exact_moments(rng, 50, mu_a, np.diag(var_a))
    b = _with_exact_moments(rng, 80, mu_b, np.diag(var_b))
    # |mu_a - mu_b|^2 + sum (sqrt(var_a) - sqrt(var_b))^2 = 7.25 + 5
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert expected == pytest.approx(12.25)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_full_covariances_match_symmetric_formula():
    rng = np.random.default_rng(1)
    dim = 4
    cov_a = np.cov(rng.normal(size=(10, dim)), rowvar=False) + np.eye(dim)
    cov_b = np.cov(rng.normal(size=(10, dim)), rowvar=False) + 0.5 * np.eye(dim)
    a = _with_exact_moments(rng, 40, np.zeros(dim), cov_a)
    b = _with_exact_moments(rng, 40, np.ones(dim), cov_b)
    # Tr((A B)^1/2) = Tr((A^1/2 B A^1/2)^1/2), computed with eigendecompositions.
    values, vectors = np.linalg.eigh(cov_a)
    sqrt_a = vectors @ np.diag(np.sqrt(values)) @ vectors.T
    trace_sqrt = np.sum(np.sqrt(np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)))
    expected = dim + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_identical_and_singular():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 6))
    assert abs(frechet_distance(a, a)) < 1e-6
    # Fewer examples than features: singular covariances still give a finite value.
    few_a, few_b = rng.normal(size=(5, 20)), rng.normal(size=(5, 20)) + 3.0
    distance = frechet_distance(few_a, few_b)
    assert np.isfinite(distance)
    assert distance > 20 * 9.0 * 0.5


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same number of features"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="num_examples >= 2"):
        frechet_distance(np.zeros((4,)), np.zeros((4,)))


def _mmd2_unbiased_by_definition(x, y):
    def k(u, v):
        return (np.dot(u, v) / len(u) + 1.0) ** 3

    m = len(x)
    pairs = [(i, j) for i in range(m) for j in range(m) if i != j]
    k_xx = sum(k(x[i], x[j]) for i, j in pairs) / len(pairs)
    k_yy = sum(k(y[i], y[j]) for i, j in pairs) / len(pairs)
    k_xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    return k_xx + k_yy - 2.0 * k_xy


def test_kid_matches_definition_on_a_full_subset():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)) + 0.5
    # One subset of all examples is a permutation, to which MMD^2 is invariant.
    kid = kernel_inception_distance(x, y, num_subsets=1, subset_size=7)
    assert kid == pytest.approx(_mmd2_unbiased_by_definition(x, y), rel=1e-10)


def test_kid_near_zero_for_same_distribution_and_positive_when_shifted():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    same = kernel_inception_distance(a, b, num_subsets=20, subset_size=200, seed=0)
    shifted = kernel_inception_distance(a, b + 0.5, num_subsets=20, subset_size=200, seed=0)
    assert abs(same) < 0.01
    assert shifted > 0.1
    assert shifted > 20 * abs(same)
    # Subset size is capped at the smaller set; seeds make it reproducible.
    assert kernel_inception_distance(a[:50], b, subset_size=1000, seed=1) == pytest.approx(
        kernel_inception_distance(a[:50], b, subset_size=50, seed=1)
    )


def test_a_distance_ratio_averages_each_distance_over_the_draws():
    rng = np.random.default_rng(2)
    compared = rng.normal(size=(60, 3)) + 0.5
    draws = [(rng.normal(size=(60, 3)), rng.normal(size=(60, 3))) for _ in range(3)]
    sample = [frechet_distance(compared, reference) for reference, _ in draws]
    real = [frechet_distance(other, reference) for reference, other in draws]
    ratios = np.divide(sample, real)
    metrics = frechet_distance_ratio(compared, draws, prefix="pixel_")
    assert metrics == {
        "pixel_frechet_distance": pytest.approx(np.mean(sample)),
        "real_pixel_frechet_distance": pytest.approx(np.mean(real)),
        "pixel_fd_ratio": pytest.approx(np.mean(sample) / np.mean(real)),
        "pixel_fd_ratio_range": [pytest.approx(ratios.min()), pytest.approx(ratios.max())],
    }
    # The ratio of the means, not the mean of the ratios.
    assert metrics["pixel_fd_ratio"] != pytest.approx(np.mean(ratios))


def test_each_draw_compares_disjoint_real_sets_and_the_first_is_the_single_draw():
    samples, draws = draw_comparison_sets(seed=5, num_samples=30, num_real=50, count=20)
    many_samples, many = draw_comparison_sets(5, 30, 50, 20, reference_draws=4)
    assert len(draws) == 1 and len(many) == 4 and len(samples) == 20
    np.testing.assert_array_equal(many_samples, samples)
    np.testing.assert_array_equal(many[0][0], draws[0][0])
    np.testing.assert_array_equal(many[0][1], draws[0][1])
    for reference, other in many:
        assert len(reference) == len(other) == 20 and not set(reference) & set(other)
    assert len({tuple(reference) for reference, _ in many}) == 4
    # From a second set of images (a training split beside a test split).
    _, split = draw_comparison_sets(5, 30, 50, 20, reference_draws=2, num_other=25)
    assert all(other.max() < 25 and len(set(other)) == 20 for _, other in split)


@pytest.mark.parametrize("draws", [0, -1, 2.0, True])
def test_reference_draws_must_be_a_positive_integer(draws):
    with pytest.raises(ValueError, match="`reference_draws` must be"):
        draw_comparison_sets(0, 10, 20, 5, reference_draws=draws)
