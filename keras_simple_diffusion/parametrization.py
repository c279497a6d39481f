"""What the denoiser predicts, and the identities between v, epsilon and x.

With ``z = alpha x + sigma eps`` (variance preserving, alpha^2 + sigma^2 = 1):

    v     = alpha eps - sigma x
    x_hat = alpha z - sigma v_hat
    eps_hat = sigma z + alpha v_hat

v-prediction is the default: epsilon-prediction is unstable near t = 1
(alpha -> 0) and x-prediction near t = 0 (sigma -> 0). Every function takes
`alpha` and `sigma` already broadcastable against the images (see
`broadcast_like`).
"""

from keras import ops

PREDICTIONS = ("v", "eps", "x")


def check_prediction(prediction):
    if prediction not in PREDICTIONS:
        raise ValueError(f"Unknown prediction {prediction!r}. Expected one of {PREDICTIONS}.")
    return prediction


def broadcast_like(per_example, images):
    """Reshapes a (batch,) tensor to (batch, 1, ..., 1) to match `images`."""
    rank = len(images.shape)
    return ops.reshape(per_example, (-1,) + (1,) * (rank - 1))


def diffuse(x, eps, alpha, sigma):
    """The forward process: ``z = alpha x + sigma eps``."""
    return alpha * x + sigma * eps


def prediction_target(prediction, x, eps, alpha, sigma):
    """What a network of the given parametrisation should output."""
    check_prediction(prediction)
    if prediction == "v":
        return alpha * eps - sigma * x
    return eps if prediction == "eps" else x


def denoised(prediction, output, z, alpha, sigma):
    """Returns `(x_hat, eps_hat)` from a network output of the given kind."""
    check_prediction(prediction)
    if prediction == "v":
        return alpha * z - sigma * output, sigma * z + alpha * output
    if prediction == "eps":
        return (z - sigma * output) / alpha, output
    return output, (z - alpha * output) / sigma


def epsilon_error(prediction, output, x, eps, alpha, sigma):
    """``eps - eps_hat``, computed in the network's own space for stability.

    For v-prediction ``eps - eps_hat = alpha (v - v_hat)``; for x-prediction
    ``eps - eps_hat = -(alpha / sigma) (x - x_hat)``. Going through these
    identities avoids subtracting two nearly equal numbers at low SNR.
    """
    target = prediction_target(prediction, x, eps, alpha, sigma)
    error = ops.subtract(target, output)
    if prediction == "v":
        return alpha * error
    return error if prediction == "eps" else -(alpha / sigma) * error
