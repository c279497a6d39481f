"""Digits split and a classifier trained once per test session."""

import numpy as np
import pytest

from keras_simple_diffusion.data import load_digits
from keras_simple_diffusion.evaluation import train_classifier

CLASSIFIER_EPOCHS = 8


@pytest.fixture(scope="session")
def digits_split():
    """32x32 digits in [-1, 1]: 1197 to train on, 600 held out."""
    images, labels = load_digits(image_size=32)
    order = np.random.default_rng(0).permutation(len(images))
    train, held_out = order[:1197], order[1197:]
    return (images[train], labels[train]), (images[held_out], labels[held_out])


@pytest.fixture(scope="session")
def classifier_path(tmp_path_factory):
    return tmp_path_factory.mktemp("classifier") / "digits_classifier.keras"


@pytest.fixture(scope="session")
def digits_classifier(digits_split, classifier_path):
    (images, labels), _ = digits_split
    return train_classifier(
        images, labels, epochs=CLASSIFIER_EPOCHS, seed=0, cache_path=str(classifier_path)
    )
