"""Writing samples to disk: PNG grids, folders of PNGs and `.npz` arrays.

Every file is written atomically (`keras_simple_diffusion.files`).
"""

import math
import os

import numpy as np
from PIL import Image

from keras_simple_diffusion import files


def to_uint8(images):
    """Maps images in [-1, 1] to uint8 pixels in [0, 255].

    Args:
        images: float array `(..., H, W, C)` in [-1, 1].

    Returns:
        A uint8 array of the same shape.

    Example:
    >>> to_uint8(np.array([-1.0, 0.0, 1.0]))
    array([  0, 128, 255], dtype=uint8)
    """
    pixels = (np.asarray(images, "float32") + 1.0) * 127.5
    return np.clip(np.round(pixels), 0, 255).astype("uint8")


def _pil_image(pixels):
    """A PIL image from uint8 pixels `(H, W, C)` with C in {1, 3}."""
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def _save_png(pixels, path):
    with files.atomic_path(path) as temporary:
        _pil_image(pixels).save(temporary)


def image_grid(images, columns=None, padding=2):
    """Tiles images into one uint8 grid image, row by row.

    Args:
        images: float array `(N, H, W, C)` in [-1, 1].
        columns: images per row; defaults to `ceil(sqrt(N))`.
        padding: pixels of black border between images.

    Returns:
        A uint8 array `(rows * (H + padding) + padding, ..., C)`.

    Example:
    >>> image_grid(np.zeros((6, 8, 8, 1)), columns=3).shape
    (22, 32, 1)
    """
    images = to_uint8(images)
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        "uint8",
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_image_grid(images, path, columns=None):
    """Saves images in [-1, 1] as one PNG grid at `path` (see `image_grid`).

    Example:
    >>> save_image_grid(samples, "grid.png", columns=10)  # doctest: +SKIP
    """
    _save_png(image_grid(images, columns), path)


def save_samples(images, out, labels=None, columns=None):
    """Saves generated images where `out` says, by its form.

    - `*.png`: one grid, one row per `columns` images.
    - `*.npz`: an `images` array `(N, H, W, C)` float32 in [-1, 1], in the
      order given, plus `labels` when there are some.
    - anything else: a folder of PNG files `00000.png`, ... (with the label
      in the name, `00000_label3.png`, when there are labels).

    Args:
        images: float array `(N, H, W, C)` in [-1, 1].
        out: output path.
        labels: optional int array `(N,)` of the conditioning labels.
        columns: images per grid row, for `.png`.

    Returns:
        The path written.

    Example:
    >>> save_samples(samples, "samples.npz", labels=[0, 1, 2])  # doctest: +SKIP
    """
    images = np.asarray(images, "float32")
    lower = out.lower()
    if lower.endswith(".png"):
        save_image_grid(images, out, columns)
    elif lower.endswith(".npz"):
        arrays = {"images": images}
        if labels is not None:
            arrays["labels"] = np.asarray(labels, "int32")
        with files.atomic_path(out) as temporary, open(temporary, "wb") as file:
            np.savez(file, **arrays)
    else:
        os.makedirs(out, exist_ok=True)
        for index, pixels in enumerate(to_uint8(images)):
            suffix = "" if labels is None else f"_label{int(labels[index])}"
            _save_png(pixels, os.path.join(out, f"{index:05d}{suffix}.png"))
    return out
