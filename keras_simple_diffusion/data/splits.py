"""Deterministic train/test splits of in-memory datasets."""

import sklearn.model_selection


def train_test_split(images, labels=None, test_fraction=0.2, seed=0):
    """Splits arrays into a train and a test part, deterministically.

    When `labels` are given the split is stratified, so both parts keep the
    class proportions (useful to compare two real splits in evaluation).

    Args:
        images: array of examples, split along its first axis.
        labels: optional array of integer labels, one per image.
        test_fraction: fraction of the examples in the test part, in `(0, 1)`.
        seed: integer seed; the same seed always gives the same split.

    Returns:
        `((train_images, train_labels), (test_images, test_labels))`, where
        the labels are `None` when `labels` is `None`.

    Example:

    >>> images, labels = load_digits()
    >>> (x_train, y_train), (x_test, y_test) = train_test_split(
    ...     images, labels, test_fraction=0.5, seed=0
    ... )
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must be in (0, 1). Received: {test_fraction}")
    if labels is None:
        train_images, test_images = sklearn.model_selection.train_test_split(
            images, test_size=test_fraction, random_state=seed
        )
        return (train_images, None), (test_images, None)
    train_images, test_images, train_labels, test_labels = sklearn.model_selection.train_test_split(
        images,
        labels,
        test_size=test_fraction,
        random_state=seed,
        stratify=labels,
    )
    return (train_images, train_labels), (test_images, test_labels)
