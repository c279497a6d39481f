"""Checks of image and label arrays, shared by the data loaders and `fit`.

Each check raises a one-line `ValueError` that names where the data came
from (`source`) and what was found, so that it can be shown as it is.
"""

import warnings

import numpy as np

# Values this far outside [-1, 1] are still accepted: resizing and float16
# round-trips overshoot the range by a little.
PIXEL_RANGE_TOLERANCE = 1e-3
# The largest class count inferred from labels. A class embedding holds one
# row per class, so a stray huge label (say 10**9) would otherwise build a
# model that takes all memory; real class-labelled image datasets have at
# most tens of thousands of classes.
MAX_CLASSES = 100_000
# Inferred class counts up to this are accepted whatever gaps the labels
# leave: a small subset of a labelled dataset may miss a few classes, and the
# model stays small.
SMALL_CLASS_COUNT = 16


def check_images(images, source="the data"):
    """Raises `ValueError` unless `images` are finite values in `[-1, 1]`.

    Warns when every value is non-negative, as images in `[0, 1]` would be.

    Args:
        images: an array of images `(batch, height, width, channels)`.
        source: where the images came from, for the error message.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"Images in {source} must have shape (batch, height, width, channels). "
            f"Received shape: {images.shape}"
        )
    if images.size == 0:
        raise ValueError(f"No images in {source} (shape {images.shape}).")
    is_number = np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)
    if not is_number:
        raise ValueError(
            f"Images in {source} must be a numeric array. Received dtype: {images.dtype}"
        )
    low, high = images.min(), images.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = int(np.size(images) - np.count_nonzero(np.isfinite(images)))
        raise ValueError(
            f"Images in {source} hold {bad} non-finite value(s) (NaN or inf); "
            "every pixel must be a finite number in [-1, 1]."
        )
    if low < -1 - PIXEL_RANGE_TOLERANCE or high > 1 + PIXEL_RANGE_TOLERANCE:
        hint = "images must be in [-1, 1]"
        if low >= 0 and high <= 255:
            hint = "they look like [0, 255] pixel values: rescale them with images / 127.5 - 1"
        raise ValueError(
            f"Images in {source} must be in [-1, 1]; found values in [{low:g}, {high:g}]: {hint}."
        )
    if low >= 0 and high > 0:
        warnings.warn(
            f"Images in {source} have no negative values although [-1, 1] is "
            "expected; if they are in [0, 1], rescale them with images * 2 - 1.",
            stacklevel=2,
        )


def check_labels(labels, num_classes=None, source="the data"):
    """Raises `ValueError` unless `labels` are class indices in `[0, num_classes)`.

    Args:
        labels: an array of integer class labels.
        num_classes: the number of classes, or `None` for no upper bound.
        source: where the labels came from, for the error message.
    """
    labels = np.asarray(labels)
    if np.issubdtype(labels.dtype, np.floating):
        raise ValueError(
            f"Labels in {source} must be integer class indices, not {labels.dtype}; "
            "cast them with labels.astype('int32') if they hold whole numbers."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"Labels in {source} must be integer class indices. Received dtype: {labels.dtype}"
        )
    if labels.size == 0:
        return
    low, high = labels.min(), labels.max()
    if low < 0:
        raise ValueError(f"Labels in {source} must be non-negative class indices; found {low}.")
    if num_classes is not None and high >= num_classes:
        raise ValueError(
            f"Labels in {source} must be below num_classes={num_classes}; found {high}."
        )


def infer_num_classes(labels, source="the data"):
    """The number of classes of labels `0..N-1`: their maximum plus one.

    Args:
        labels: an array of integer class labels.
        source: where the labels came from, for the error message.

    Returns:
        The class count `N` as a Python `int`.

    Raises:
        ValueError: for labels `check_labels` refuses, no labels, more than
            `MAX_CLASSES` classes, or labels that leave more than half of
            the classes unused (beyond `SMALL_CLASS_COUNT` classes).
    """
    check_labels(labels, source=source)
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError(f"No labels in {source} to count the classes of.")
    num_classes = int(labels.max()) + 1
    distinct = len(np.unique(labels))
    found = f"labels range 0..{num_classes - 1} but only {distinct} distinct values appear"
    if num_classes > MAX_CLASSES:
        raise ValueError(
            f"Labels in {source} would make {num_classes} classes, more than "
            f"{MAX_CLASSES}: {found}. Number the classes 0..N-1."
        )
    if num_classes > SMALL_CLASS_COUNT and 2 * distinct < num_classes:
        raise ValueError(
            f"In {source}, {found}, so most classes would be unused. "
            "Number the classes 0..N-1 (e.g. np.unique(labels, return_inverse=True)[1])."
        )
    return num_classes
