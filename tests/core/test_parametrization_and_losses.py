import numpy as np
import pytest
from keras import ops

from keras_simple_diffusion import losses, parametrization
from keras_simple_diffusion.schedules import alpha_sigma


def to_np(x):
    return ops.convert_to_numpy(x).astype("float64")


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (4, 8, 8, 3)).astype("float32")
    eps = rng.randn(4, 8, 8, 3).astype("float32")
    logsnr = np.array([-6.0, -1.0, 2.0, 7.0], "float32")
    alpha, sigma = (parametrization.broadcast_like(v, x) for v in alpha_sigma(logsnr))
    return x, eps, logsnr, alpha, sigma


def test_v_identities_recover_x_and_eps(problem):
    x, eps, _, alpha, sigma = problem
    z = parametrization.diffuse(x, eps, alpha, sigma)
    v = parametrization.prediction_target("v", x, eps, alpha, sigma)
    x_hat, eps_hat = parametrization.denoised("v", v, z, alpha, sigma)
    np.testing.assert_allclose(to_np(x_hat), x, atol=1e-5)
    np.testing.assert_allclose(to_np(eps_hat), eps, atol=1e-5)


@pytest.mark.parametrize("prediction", parametrization.PREDICTIONS)
def test_every_parametrisation_is_consistent(problem, prediction):
    x, eps, _, alpha, sigma = problem
    z = parametrization.diffuse(x, eps, alpha, sigma)
    target = parametrization.prediction_target(prediction, x, eps, alpha, sigma)
    x_hat, eps_hat = parametrization.denoised(prediction, target, z, alpha, sigma)
    np.testing.assert_allclose(to_np(x_hat), x, atol=1e-4)
    np.testing.assert_allclose(to_np(eps_hat), eps, atol=1e-3)


@pytest.mark.parametrize("prediction", parametrization.PREDICTIONS)
def test_epsilon_error_equals_eps_minus_eps_hat(problem, prediction):
    x, eps, _, alpha, sigma = problem
    z = parametrization.diffuse(x, eps, alpha, sigma)
    output = parametrization.prediction_target(prediction, x, eps, alpha, sigma) + 0.1
    _, eps_hat = parametrization.denoised(prediction, output, z, alpha, sigma)
    error = parametrization.epsilon_error(prediction, output, x, eps, alpha, sigma)
    np.testing.assert_allclose(to_np(error), eps - to_np(eps_hat), atol=1e-4)


def test_v_weighting_is_the_v_mse(problem):
    x, eps, logsnr, alpha, sigma = problem
    v = to_np(parametrization.prediction_target("v", x, eps, alpha, sigma))
    v_hat = v + np.random.RandomState(1).randn(*v.shape) * 0.3
    error = parametrization.epsilon_error("v", v_hat.astype("float32"), x, eps, alpha, sigma)
    got = to_np(losses.diffusion_loss(error, logsnr, "v"))
    np.testing.assert_allclose(got, np.mean((v - v_hat) ** 2, axis=(1, 2, 3)), rtol=1e-4)


def test_weightings_exact_values():
    logsnr = np.array([-3.0, 0.0, 4.0], "float32")
    np.testing.assert_allclose(to_np(losses.loss_weight(logsnr, "eps")), 1.0)
    np.testing.assert_allclose(
        to_np(losses.loss_weight(logsnr, "v")), 1 + np.exp(-logsnr), rtol=1e-6
    )
    np.testing.assert_allclose(
        to_np(losses.loss_weight(logsnr, "sigmoid", -1.0)),
        1 / (1 + np.exp(logsnr + 1.0)),
        rtol=1e-6,
    )
    assert [losses.default_sigmoid_bias(s) for s in (64, 128, 256, 512)] == [0.0, 0.0, -1.0, -3.0]


def test_unknown_weighting_and_prediction_names():
    with pytest.raises(ValueError, match="weighting"):
        losses.loss_weight(np.zeros(2), "l1")
    with pytest.raises(ValueError, match="prediction"):
        parametrization.denoised("score", 0.0, 0.0, 1.0, 1.0)


def test_multiscale_sizes():
    assert losses.multiscale_sizes(32) == [32]
    assert losses.multiscale_sizes(16) == [16]
    assert losses.multiscale_sizes(256) == [256, 128, 64, 32]
    assert losses.multiscale_sizes(96) == [96, 48]


def test_single_scale_multiscale_loss_is_the_plain_loss():
    error = np.random.RandomState(0).randn(3, 32, 32, 2).astype("float32")
    got = to_np(losses.multiscale_mean_square(error, [32]))
    np.testing.assert_allclose(got, np.mean(error**2, axis=(1, 2, 3)), rtol=1e-5)


def test_multiscale_loss_weights_by_inverse_resolution():
    error = np.random.RandomState(0).randn(2, 128, 128, 1).astype("float32")
    sizes = losses.multiscale_sizes(128)
    pooled = {s: error.reshape(2, s, 128 // s, s, 128 // s, 1).mean(axis=(2, 4)) for s in sizes}
    weights = np.array([1 / s for s in sizes]) / sum(1 / s for s in sizes)
    expected = sum(w * np.mean(pooled[s] ** 2, axis=(1, 2, 3)) for w, s in zip(weights, sizes))
    np.testing.assert_allclose(
        to_np(losses.multiscale_mean_square(error, sizes)), expected, rtol=1e-5
    )
    # Averaging is linear: a constant error is the same at every scale.
    constant = np.full((1, 128, 128, 1), 0.5, "float32")
    assert to_np(losses.multiscale_mean_square(constant, sizes))[0] == pytest.approx(0.25)
