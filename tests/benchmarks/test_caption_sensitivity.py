"""benchmarks/caption_sensitivity.py: the denoising error by caption kind."""

import numpy as np

import keras_simple_diffusion as ksd
from benchmarks import caption_sensitivity


def test_errors_are_given_per_noise_level_and_caption_kind_and_equal_captions_agree():
    model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-text-tiny", image_size=16), seed=0)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    same = caption_sensitivity.caption_errors(model, images, ["a red circle"] * 4, (-3.0, 3.0))
    assert list(same) == [-3.0, 3.0]
    for row in same.values():
        assert set(row) == {"own", "shuffled", "empty"}
        assert all(np.isfinite(value) and value > 0 for value in row.values())
        # The same caption for every image: shuffling changes nothing.
        assert row["own"] == row["shuffled"]
    # Less noise, less error: the estimate follows the noisy image.
    assert same[3.0]["own"] < same[-3.0]["own"]
