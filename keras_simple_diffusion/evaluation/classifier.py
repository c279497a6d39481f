"""A small CNN classifier trained on the real data: an offline feature space.

FID needs pretrained InceptionV3 weights, which cannot be downloaded
everywhere. A small classifier trained on the real images gives a feature
space (its penultimate layer) and a check of class-conditional samples (does
the classifier recognise the conditioning label?) that works offline and on
small images.
"""

import math
import os

import keras
import numpy as np


def default_filters(image_size):
    """Filters of each stage: (16, 32, 64), and a stage of 64 more for each
    doubling of the image above 32 px, so that the last feature map is at
    most 4 x 4 and the features see whole digits or shapes. With three
    stages at 128 px each feature saw a 22-pixel patch of smooth strokes:
    every real image gave almost the same features (real-vs-real Frechet
    distance 0.03, against 0.21 at 32 px) and legible samples read as noise.
    """
    stages = max(3, math.ceil(math.log2(image_size / 4)))
    return (16, 32, 64) + (64,) * (stages - 3)


@keras.saving.register_keras_serializable(package="keras_simple_diffusion")
class ImageClassifier(keras.Model):
    """Small convolutional image classifier whose penultimate layer gives features.

    Each stage is a 3x3 convolution with batch normalisation and ReLU,
    followed by 2x2 max pooling. Global average pooling, a dense layer whose
    outputs (before its ReLU) are the features, ReLU, dropout and a dense
    layer give the class logits. Pre-activation features have no dead
    (constant) dimensions, so their covariance is well conditioned for
    Frechet distances. Images are expected in [-1, 1], as produced by the
    diffusion models.

    Args:
        image_size: height and width of the input images.
        num_channels: channels of the input images.
        num_classes: number of classes; the model outputs logits.
        filters: convolution filters of each stage; None for
            `default_filters(image_size)`.
        feature_dim: size of the feature (penultimate) layer.
        dropout: dropout rate before the logits, during training.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:
    >>> model = ImageClassifier(image_size=32, num_channels=1, num_classes=10)
    >>> images = np.zeros((2, 32, 32, 1), "float32")
    >>> model.predict(images, verbose=0).shape, model.features(images).shape
    ((2, 10), (2, 64))
    """

    def __init__(
        self,
        image_size=32,
        num_channels=1,
        num_classes=10,
        filters=None,
        feature_dim=64,
        dropout=0.3,
        **kwargs,
    ):
        filters = default_filters(image_size) if filters is None else tuple(filters)
        images = keras.Input((image_size, image_size, num_channels), name="images")
        x = images
        for stage, stage_filters in enumerate(filters):
            x = keras.layers.Conv2D(
                stage_filters, 3, padding="same", use_bias=False, name=f"conv{stage}"
            )(x)
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{stage}")(x)
            x = keras.layers.ReLU(name=f"relu{stage}")(x)
            x = keras.layers.MaxPooling2D(name=f"pool{stage}")(x)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        features = keras.layers.Dense(feature_dim, name="features")(x)
        x = keras.layers.ReLU(name="features_relu")(features)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        logits = keras.layers.Dense(num_classes, name="logits")(x)
        super().__init__(inputs=images, outputs=logits, **kwargs)
        self.feature_extractor = keras.Model(images, features, name="feature_extractor")

        self.image_size = image_size
        self.num_channels = num_channels
        self.num_classes = num_classes
        self.filters = filters
        self.feature_dim = feature_dim
        self.dropout = dropout

    def features(self, images, batch_size=256):
        """Penultimate-layer features of `images` as a NumPy array `(N, feature_dim)`."""
        return self.feature_extractor.predict(images, batch_size=batch_size, verbose=0)

    def predict_labels(self, images, batch_size=256):
        """Most likely class of each image as an int NumPy array `(N,)`."""
        return np.argmax(self.predict(images, batch_size=batch_size, verbose=0), axis=-1)

    def get_config(self):
        return {
            "image_size": self.image_size,
            "num_channels": self.num_channels,
            "num_classes": self.num_classes,
            "filters": list(self.filters),
            "feature_dim": self.feature_dim,
            "dropout": self.dropout,
            "name": self.name,
            "trainable": self.trainable,
        }


def _check_cached(classifier, images, num_classes, cache_path):
    expected = (images.shape[1], images.shape[3], num_classes)
    found = (classifier.image_size, classifier.num_channels, classifier.num_classes)
    if expected != found:
        raise ValueError(
            f"The classifier cached at {cache_path} expects (image_size, num_channels, "
            f"num_classes)={found} but the data has {expected}. Delete the file or pass "
            "another `cache_path`."
        )


def train_classifier(
    images,
    labels,
    epochs=10,
    batch_size=64,
    seed=0,
    cache_path=None,
    num_classes=None,
    verbose=0,
    **classifier_kwargs,
):
    """Trains an `ImageClassifier` on labelled images, or loads a cached one.

    Training calls `keras.utils.set_random_seed(seed)` (which seeds Python,
    NumPy and the backend globally) and uses Adam with a cosine-decayed
    learning rate and a sparse categorical cross-entropy loss.

    Args:
        images: float array `(N, H, W, C)` with H == W, values in [-1, 1].
        labels: int array `(N,)` of class indices.
        epochs: training epochs.
        batch_size: training batch size.
        seed: random seed for initialisation, shuffling and dropout.
        cache_path: optional path of a `.keras` file. If it holds a
            classifier of the requested filters, it is loaded and not trained
            (a `ValueError` is raised if it does not fit the data); otherwise
            the trained classifier is saved there.
        num_classes: number of classes; defaults to `max(labels) + 1`.
        verbose: verbosity passed to `model.fit`.
        **classifier_kwargs: passed to `ImageClassifier` (e.g. `feature_dim`).

    Returns:
        The trained (or loaded) `ImageClassifier`.

    Example:
    >>> from sklearn.datasets import load_digits
    >>> digits = load_digits()
    >>> images = digits.images[..., None].astype("float32") / 8.0 - 1.0
    >>> classifier = train_classifier(images, digits.target, epochs=1)
    >>> classifier.predict_labels(images[:3]).shape
    (3,)
    """
    images = np.asarray(images, dtype="float32")
    labels = np.asarray(labels).astype("int32")
    if images.ndim != 4 or images.shape[1] != images.shape[2]:
        raise ValueError(
            f"`images` must have shape (N, size, size, channels). Received: {images.shape}"
        )
    if len(labels) != len(images):
        raise ValueError(
            f"`images` and `labels` must have the same length. Received: "
            f"{len(images)} and {len(labels)}"
        )
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes

    filters = classifier_kwargs.pop("filters", None) or default_filters(images.shape[1])
    if cache_path is not None and os.path.exists(cache_path):
        classifier = keras.saving.load_model(cache_path)
        _check_cached(classifier, images, num_classes, cache_path)
        if classifier.filters == tuple(filters):
            return classifier
        # A classifier of other filters: the requested one is trained in its place.

    keras.utils.set_random_seed(seed)
    classifier = ImageClassifier(
        image_size=images.shape[1],
        num_channels=images.shape[3],
        num_classes=num_classes,
        filters=filters,
        **classifier_kwargs,
    )
    steps = epochs * -(-len(images) // batch_size)
    classifier.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    classifier.fit(images, labels, epochs=epochs, batch_size=batch_size, verbose=verbose)
    if cache_path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
        classifier.save(cache_path)
    return classifier
