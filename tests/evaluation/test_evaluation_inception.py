import socket

import keras
import numpy as np
import pytest

from keras_simple_diffusion.evaluation import (
    InceptionWeightsNotFoundError,
    compute_fid,
    inception,
    inception_features,
)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(keras.utils, "get_file", refuse)


@pytest.mark.parametrize("weights_path", [None, "imagenet", "does/not/exist.h5"])
def test_missing_weights_raise_without_downloading(no_network, weights_path):
    images = np.zeros((2, 32, 32, 1), "float32")
    with pytest.raises(InceptionWeightsNotFoundError, match="FID is skipped"):
        compute_fid(images, images, weights_path=weights_path)
    with pytest.raises(FileNotFoundError):
        inception_features(images, weights_path)


def test_inception_features_and_fid_use_the_local_weights_file(no_network, tmp_path, monkeypatch):
    weights_path = tmp_path / "inception_v3_notop.h5"
    weights_path.write_bytes(b"")
    calls, inputs = [], []

    def fake_inception_v3(**kwargs):
        # A tiny stand-in that records its arguments and inputs.
        calls.append(kwargs)
        images = keras.Input(kwargs["input_shape"])
        features = keras.layers.Dense(8)(keras.layers.GlobalAveragePooling2D()(images))
        model = keras.Model(images, features)
        predict_on_batch = model.predict_on_batch
        model.predict_on_batch = lambda x: inputs.append(np.asarray(x)) or predict_on_batch(x)
        return model

    monkeypatch.setattr(keras.applications, "InceptionV3", fake_inception_v3)
    images = np.linspace(-2.0, 2.0, 5 * 16 * 16).reshape(5, 16, 16, 1).astype("float32")

    features = inception_features(images, str(weights_path), batch_size=2)
    assert features.shape == (5, 8)
    assert calls == [
        dict(
            include_top=False,
            weights=str(weights_path),
            input_shape=(299, 299, 3),
            pooling="avg",
        )
    ]
    assert [batch.shape for batch in inputs] == [(2, 299, 299, 3)] * 2 + [(1, 299, 299, 3)]
    assert all(batch.min() >= -1.0 and batch.max() <= 1.0 for batch in inputs)

    fid = compute_fid(images, images[::-1], weights_path=str(weights_path))
    assert abs(fid) < 1e-4
    assert len(calls) == 2  # one model for both image sets


@pytest.mark.slow
def test_real_inception_v3_gives_2048_features():
    # Randomly initialised InceptionV3: checks the plumbing, not the values.
    model = keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(299, 299, 3), pooling="avg"
    )
    images = np.random.default_rng(0).uniform(-1, 1, size=(4, 32, 32, 1)).astype("float32")
    features = inception._features(model, images, batch_size=2)
    assert features.shape == (4, 2048)
    assert np.all(np.isfinite(features))
