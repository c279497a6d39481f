"""Datasets for simple diffusion, as `tf.data` pipelines of `[-1, 1]` images.

Small datasets ship with the package or are drawn on the fly (scikit-learn's
digits, captioned coloured shapes); larger ones load from prepared TFDS
directories, image folders or `.npz` files. Nothing is downloaded.

The names load lazily (PEP 562): the model code imports `data.checks`, and
only the pipelines need TensorFlow, so JAX and PyTorch users (a GPU image
without TensorFlow, say) can build, train and sample models from arrays.
"""

from keras_simple_diffusion.lazy import lazy_names

_NAMES = {
    "ACCEPTED_SOURCES": "datasets",
    "ATTRIBUTES": "shapes",
    "COLOURS": "shapes",
    "COLOUR_VALUES": "shapes",
    "DIGIT_CLASS_NAMES": "digits",
    "DatasetInfo": "datasets",
    "POSITIONS": "shapes",
    "SHAPES": "shapes",
    "SIZES": "shapes",
    "caption_for": "shapes",
    "held_out_split": "datasets",
    "load_dataset": "datasets",
    "load_digits": "digits",
    "make_shapes": "shapes",
    "parse_caption": "shapes",
    "standardize_images": "images",
    "train_test_split": "splits",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
