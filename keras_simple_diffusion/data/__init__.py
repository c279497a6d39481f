"""Datasets for simple diffusion, as `tf.data` pipelines of `[-1, 1]` images.

Small datasets ship with the package or are drawn on the fly (scikit-learn's
digits, captioned coloured shapes); larger ones load from prepared TFDS
directories, image folders or `.npz` files. Nothing is downloaded.
"""

from keras_simple_diffusion.data.datasets import (
    ACCEPTED_SOURCES,
    DatasetInfo,
    held_out_split,
    load_dataset,
)
from keras_simple_diffusion.data.digits import DIGIT_CLASS_NAMES, load_digits
from keras_simple_diffusion.data.images import standardize_images
from keras_simple_diffusion.data.shapes import (
    ATTRIBUTES,
    COLOUR_VALUES,
    COLOURS,
    POSITIONS,
    SHAPES,
    SIZES,
    caption_for,
    make_shapes,
    parse_caption,
)
from keras_simple_diffusion.data.splits import train_test_split

__all__ = [
    "ACCEPTED_SOURCES",
    "ATTRIBUTES",
    "COLOURS",
    "COLOUR_VALUES",
    "DIGIT_CLASS_NAMES",
    "DatasetInfo",
    "POSITIONS",
    "SHAPES",
    "SIZES",
    "caption_for",
    "held_out_split",
    "load_dataset",
    "load_digits",
    "make_shapes",
    "parse_caption",
    "standardize_images",
    "train_test_split",
]
