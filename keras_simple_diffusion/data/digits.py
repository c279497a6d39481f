"""The handwritten digits bundled with scikit-learn, as diffusion data."""

import sklearn.datasets

from keras_simple_diffusion.data.images import standardize_images

DIGIT_CLASS_NAMES = tuple(str(digit) for digit in range(10))


def load_digits(image_size=32):
    """Loads scikit-learn's 1797 handwritten digits, upsampled and in `[-1, 1]`.

    The digits ship with scikit-learn, so nothing is downloaded. The original
    8x8 images hold values 0..16; they are rescaled to `[-1, 1]` (0 is -1,
    16 is 1) and resized bilinearly to `image_size`.

    Args:
        image_size: side of the square output images, in pixels.

    Returns:
        A tuple `(images, labels)`: float32 images of shape
        `(1797, image_size, image_size, 1)` in `[-1, 1]` and int32 labels in
        `0..9`.

    Example:

    >>> images, labels = load_digits(image_size=16)
    >>> images.shape, labels.dtype
    ((1797, 16, 16, 1), dtype('int32'))
    """
    digits = sklearn.datasets.load_digits()
    images = digits.images.astype("float32")[..., None] / 8.0 - 1.0
    images = standardize_images(images, image_size=image_size).numpy()
    return images, digits.target.astype("int32")
