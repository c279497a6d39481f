"""Shared test set-up: the backend comes from KERAS_BACKEND, as for users."""

import keras
import pytest


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend: {keras.config.backend()}"


@pytest.fixture(autouse=True)
def _reset_seed():
    keras.utils.set_random_seed(0)
