"""The experiment's pytest plugin: what is emptied between tests, from
RESET_MODE: "session" (keras.backend.clear_session after each test),
"jaxcache" (jax.clear_caches after each test), "modjax" (jax.clear_caches
after each test file), "none" (nothing). `-p resetplug` with this folder
on PYTHONPATH."""

import os

import keras
import pytest

MODE = os.environ.get("RESET_MODE", "none")


def _clear_jax_caches():
    import jax

    jax.clear_caches()


@pytest.fixture(autouse=True)
def _reset_after_each_test():
    yield
    if MODE == "session":
        keras.backend.clear_session(free_memory=False)
    elif MODE == "jaxcache":
        _clear_jax_caches()


@pytest.fixture(autouse=True, scope="module")
def _reset_after_each_file():
    yield
    if MODE == "modjax":
        _clear_jax_caches()
