"""benchmarks/fd_reference.py on a small random image set: it scores a
perfect generator as `evaluate` scores samples, and its rows, table and
plot cover every setting."""

import numpy as np
import pytest

from benchmarks import fd_reference
from keras_simple_diffusion.evaluation.retrieval import distance_metrics

SEEDS = 4


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(-1, 1, (200, 12, 12, 1)).astype("float32")


@pytest.fixture(scope="module")
def rows(images):
    return fd_reference.measure("toy", fd_reference.images_scorer(images, 50), SEEDS, [1, 8])


def test_rows_cover_samples_draws_and_both_spaces(rows):
    settings = {(row["samples"], row["draws"], row["space"]) for row in rows}
    assert settings == {
        (samples, draws, space)
        for samples in ("same", "new")
        for draws in (1, 8)
        for space in ("pooled pixels", "patches")
    }
    assert all(len(row["per_seed_ratio"]) == SEEDS for row in rows)


def test_a_seed_scores_as_distance_metrics_does(images, rows):
    samples = images[np.random.default_rng(fd_reference.FIXED_SAMPLE_SEED).permutation(200)[:50]]
    for draws in (1, 8):
        expected = distance_metrics(samples, images, seed=2, reference_draws=draws)
        row = next(
            r for r in rows if (r["samples"], r["draws"], r["space"]) == ("same", draws, "patches")
        )
        assert row["per_seed_ratio"][2] == pytest.approx(expected["patch_fd_ratio"])


def test_more_draws_steady_the_reference(rows):
    def real_spread(draws):
        row = next(
            r for r in rows if (r["samples"], r["draws"], r["space"]) == ("same", draws, "patches")
        )
        return row["real_vs_real"]["std"]

    assert real_spread(8) < real_spread(1)


def test_table_and_plot(rows, tmp_path):
    lines = fd_reference.table(rows, SEEDS).splitlines()
    assert sum(line.startswith("| toy |") for line in lines) == len(rows)
    fd_reference.plot(rows, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0
