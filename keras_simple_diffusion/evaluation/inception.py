"""FID with Keras' InceptionV3, from a local weights file only.

Nothing is ever downloaded: the weights must be a local file, e.g. Keras'
``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`` fetched
beforehand on a machine with internet access. Without it,
`InceptionWeightsNotFoundError` is raised, which callers can report as
"skipped: no InceptionV3 weights".
"""

import os

import keras
import numpy as np

from keras_simple_diffusion.evaluation.metrics import frechet_distance

INCEPTION_SIZE = 299


class InceptionWeightsNotFoundError(FileNotFoundError):
    """Raised when no local InceptionV3 weights file is available."""


def _build_inception(weights_path):
    if weights_path is None or not os.path.isfile(weights_path):
        raise InceptionWeightsNotFoundError(
            "InceptionV3 weights not found (weights_path="
            f"{weights_path!r}); FID is skipped. Pass the path of a local file such as "
            "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 (nothing is downloaded)."
        )
    return keras.applications.InceptionV3(
        include_top=False,
        weights=weights_path,
        input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3),
        pooling="avg",
    )


def _features(model, images, batch_size):
    images = np.clip(np.asarray(images, dtype="float32"), -1.0, 1.0)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"`images` must have shape (N, H, W, 1 or 3). Received: images.shape={images.shape}"
        )
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    features = []
    for start in range(0, len(images), batch_size):
        batch = keras.ops.image.resize(
            images[start : start + batch_size], (INCEPTION_SIZE, INCEPTION_SIZE)
        )
        # Bilinear weights can round a pixel at +-1 just past it (torch, one thread).
        batch = keras.ops.clip(batch, -1.0, 1.0)
        features.append(keras.ops.convert_to_numpy(model.predict_on_batch(batch)))
    return np.concatenate(features)


def inception_features(images, weights_path, batch_size=32):
    """Pooled 2048-d InceptionV3 features of images in [-1, 1].

    Images are clipped to [-1, 1], grayscale is repeated to RGB and they are
    resized bilinearly to 299x299. InceptionV3's own preprocessing maps
    [0, 255] to [-1, 1], so images in [-1, 1] are fed as they are.

    Args:
        images: float array `(N, H, W, C)` with C in {1, 3}, values in [-1, 1].
        weights_path: path of a local InceptionV3 weights file without the
            top (e.g. `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`).
        batch_size: images per forward pass.

    Returns:
        float32 NumPy array of shape `(N, 2048)`.

    Raises:
        InceptionWeightsNotFoundError: if `weights_path` is None or not a file.

    Example:
    >>> images = np.zeros((4, 32, 32, 1), "float32")
    >>> inception_features(images, "inception_v3_notop.h5").shape  # doctest: +SKIP
    (4, 2048)
    """
    return _features(_build_inception(weights_path), images, batch_size)


def compute_fid(samples, real_images, weights_path=None, batch_size=32):
    """Frechet Inception Distance between samples and real images.

    Raises instead of downloading when there are no weights, so callers can
    report the metric as skipped:

    ```python
    try:
        fid = compute_fid(samples, real_images, weights_path)
    except InceptionWeightsNotFoundError:
        fid = None  # "skipped: no InceptionV3 weights"
    ```

    For the KID, pass `inception_features` of both sets to
    `kernel_inception_distance`. FID is strongly biased at small sample sizes:
    compare numbers computed with the same number of images.

    Args:
        samples: generated images `(N, H, W, C)` in [-1, 1], C in {1, 3}.
        real_images: real images `(M, H', W', C')` in [-1, 1].
        weights_path: path of a local InceptionV3 weights file without the
            top. None (the default) raises.
        batch_size: images per forward pass.

    Returns:
        The FID as a Python float.

    Raises:
        InceptionWeightsNotFoundError: if `weights_path` is None or not a file.

    Example:
    >>> compute_fid(samples, real_images, "inception_v3_notop.h5")  # doctest: +SKIP
    """
    model = _build_inception(weights_path)
    return frechet_distance(
        _features(model, samples, batch_size), _features(model, real_images, batch_size)
    )
