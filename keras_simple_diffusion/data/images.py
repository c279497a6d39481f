"""Image standardization shared by every data source.

All pipelines of this package produce float32 images in `[-1, 1]`,
channels-last, square, with 1 or 3 channels.

TensorFlow is used for data pipelines on every Keras backend. When the Keras
backend is not TensorFlow, importing this module hides the GPUs from
TensorFlow so that `tf.data` does not reserve accelerator memory that JAX or
PyTorch need.
"""

import numbers

import keras
import tensorflow as tf

if keras.backend.backend() != "tensorflow":
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:
        # TensorFlow already initialised its devices; nothing left to hide.
        pass

SUPPORTED_CHANNELS = (1, 3)


def validate_image_size(image_size):
    """Raises `ValueError` unless `image_size` is a positive integer.

    Args:
        image_size: the side of the square images, in pixels.

    Returns:
        `image_size` as a Python `int`.
    """
    is_integer = isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool)
    if not is_integer or image_size <= 0:
        raise ValueError(f"`image_size` must be a positive integer. Received: {image_size!r}")
    return int(image_size)


def validate_channels(channels):
    """Raises `ValueError` unless `channels` is `None`, 1 or 3.

    Args:
        channels: the requested number of image channels, or `None` to keep
            the source's own.

    Returns:
        `channels` unchanged.
    """
    if channels is not None and channels not in SUPPORTED_CHANNELS:
        raise ValueError(
            f"`channels` must be one of {SUPPORTED_CHANNELS} or None. Received: {channels!r}"
        )
    return channels


def standardize_images(images, image_size=None, channels=None):
    """Converts images to float32 in `[-1, 1]` with a given size and channels.

    Integer images are read as `[0, 255]` pixel values and rescaled; floating
    point images are taken to be in `[-1, 1]` already. Non-square images are
    centre-cropped to a square before resizing, so aspect ratios are never
    distorted. Resizing is bilinear with antialiasing. A trailing alpha
    channel is dropped; greyscale and RGB are converted into each other when
    `channels` asks for it.

    Works eagerly or inside `tf.data.Dataset.map`, on one image
    `(H, W, C)` or a batch `(N, H, W, C)`.

    Args:
        images: a NumPy array or tensor, channels-last, with 1, 3 or 4
            channels.
        image_size: the side of the square output, or `None` to keep the
            spatial size.
        channels: 1 or 3 to convert, or `None` to keep the channels (an alpha
            channel is still dropped).

    Returns:
        A float32 `tf.Tensor` of the same rank.

    Example:

    >>> images = np.zeros((2, 8, 12, 3), "uint8")
    >>> standardize_images(images, image_size=4, channels=1).shape
    TensorShape([2, 4, 4, 1])
    """
    validate_channels(channels)
    images = tf.convert_to_tensor(images)
    input_channels = images.shape[-1]
    if input_channels not in (1, 3, 4):
        raise ValueError(
            f"Images must be channels-last with 1, 3 or 4 channels. Received shape: {images.shape}"
        )
    if images.dtype.is_integer:
        images = tf.cast(images, "float32") / 127.5 - 1.0
    else:
        images = tf.cast(images, "float32")
    if input_channels == 4:
        images = images[..., :3]
    if channels == 1 and images.shape[-1] == 3:
        images = tf.image.rgb_to_grayscale(images)
    elif channels == 3 and images.shape[-1] == 1:
        images = tf.image.grayscale_to_rgb(images)
    if image_size is not None:
        image_size = validate_image_size(image_size)
        shape = tf.shape(images)
        height, width = shape[-3], shape[-2]
        side = tf.minimum(height, width)
        images = tf.image.crop_to_bounding_box(
            images, (height - side) // 2, (width - side) // 2, side, side
        )
        images = tf.image.resize(images, (image_size, image_size), "bilinear", antialias=True)
        images = tf.clip_by_value(images, -1.0, 1.0)
    return images
