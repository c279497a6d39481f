"""Sample-quality evaluation: FD/KID metrics, an offline feature classifier, FID.

`evaluate_samples` scores samples in the feature space of a small classifier
trained on the real data (works offline); `compute_fid` gives the standard FID
when a local InceptionV3 weights file is available.
"""

from keras_simple_diffusion.evaluation.classifier import (
    ImageClassifier,
    default_filters,
    train_classifier,
)
from keras_simple_diffusion.evaluation.evaluate import (
    evaluate_samples,
    format_report,
    pooled_pixel_metrics,
    pooled_pixels,
)
from keras_simple_diffusion.evaluation.inception import (
    InceptionWeightsNotFoundError,
    compute_fid,
    inception_features,
)
from keras_simple_diffusion.evaluation.metrics import frechet_distance, kernel_inception_distance

__all__ = [
    "ImageClassifier",
    "InceptionWeightsNotFoundError",
    "compute_fid",
    "default_filters",
    "evaluate_samples",
    "format_report",
    "frechet_distance",
    "inception_features",
    "kernel_inception_distance",
    "pooled_pixel_metrics",
    "pooled_pixels",
    "train_classifier",
]
