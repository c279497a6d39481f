"""`benchmarks.residual_noise`: the roughness measure and what an untrained
denoiser (zero output, so x_hat = alpha z) leaves of the noise."""

import numpy as np

import keras_simple_diffusion as ksd
from benchmarks.residual_noise import residual_noise, roughness


def test_roughness_is_zero_on_flat_images_and_exact_on_an_impulse():
    assert roughness(np.full((2, 8, 8, 1), 0.3)) == 0.0
    impulse = np.zeros((1, 7, 7, 1))
    impulse[0, 3, 3] = 9.0
    # The pixel is 8 above its neighbourhood's mean of 1; its 8 neighbours
    # are 1 below theirs; the other 40 pixels see no difference.
    np.testing.assert_allclose(roughness(impulse), (8 + 8 * 1) / 49)


def test_an_untrained_denoiser_keeps_alpha_times_the_noise():
    denoiser = ksd.build_denoiser("uvit-tiny", num_classes=10)
    model = ksd.SimpleDiffusion(denoiser, seed=0)
    images = np.random.RandomState(0).uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    rows = residual_noise(model, images, labels=[0, 1, 2, 3], logsnrs=(-2.0, 0.0, 4.0))
    assert [row["logsnr"] for row in rows] == [-2.0, 0.0, 4.0]
    for row in rows:
        alpha = np.sqrt(1 - row["sigma"] ** 2)
        np.testing.assert_allclose(
            row["roughness_x_hat"], alpha * row["roughness_noised"], rtol=1e-5
        )
    assert rows[0]["sigma"] > rows[1]["sigma"] > rows[2]["sigma"]
