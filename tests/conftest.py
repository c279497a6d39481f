"""Shared test set-up: the backend comes from KERAS_BACKEND, as for users.

`SLOW_BACKENDS` (comma-separated; `scripts/test.sh` sets "torch") limits the
tests marked `slow` (whole runs, killed runs, studies) to those backends,
so that the fast suite covers all three backends and each slow end-to-end
path, or costly check of a computation that is the same on every backend,
runs once. Unset, every test runs. A test marked `backends("jax", ...)`
tests those backends' own paths: it runs on them only, slow or not.
"""

import os

import keras
import pytest


def pytest_report_header(config):
    slow = os.environ.get("SLOW_BACKENDS", "all")
    return f"keras {keras.__version__}, backend: {keras.config.backend()}, slow tests on: {slow}"


def pytest_collection_modifyitems(config, items):
    slow_backends = os.environ.get("SLOW_BACKENDS")
    backend = keras.config.backend()
    runs_slow = not slow_backends or backend in slow_backends.split(",")
    skip_slow = pytest.mark.skip(reason=f"slow: runs on SLOW_BACKENDS={slow_backends} only")
    for item in items:
        own = item.get_closest_marker("backends")
        if own is not None:
            if backend not in own.args:
                names = ", ".join(own.args)
                item.add_marker(pytest.mark.skip(reason=f"tests the {names} backend only"))
        elif item.get_closest_marker("slow") and not runs_slow:
            item.add_marker(skip_slow)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
    """Keeps cached classifiers out of the user's home, one folder per
    pytest process (the backends' suites may run side by side)."""
    path = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("KSD_CACHE_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def _reset_seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(autouse=True, scope="module")
def _fresh_jax_caches():
    """Empties JAX's caches of compiled programs after each test file. One
    suite process keeps every program it compiled, and its later compiles
    and calls grow slower with them (a text test took 1.6-2.3x its time
    alone after the layer and model tests); a file reuses most of what it
    compiles, the next file little."""
    yield
    if keras.config.backend() == "jax":
        import jax

        jax.clear_caches()
