"""Prompt adherence of text-to-image samples on the captioned shapes data.

Three small classifiers (the evaluation module's `ImageClassifier`, through
`train_classifier`) are trained on labelled images of the same generator
(`data.make_shapes`) and read the shape, the colour and the position of each
sample. A sample adheres to its prompt when all three match the prompt's
attributes (the size is not scored). The same measure on held-out real
images gives the ceiling the classifiers allow (the "real-image figure").

Example:
>>> readers = train_attribute_classifiers(num_images=4096, epochs=4)
>>> prompts = ["a large red circle at the top left"] * 8
>>> samples = model.generate(prompts=prompts, guidance=3.0, steps=64, seed=0)
>>> prompt_adherence(readers, samples, prompts)["all"]
"""

import numpy as np

from keras_simple_diffusion.data.shapes import ATTRIBUTES, make_shapes, parse_caption
from keras_simple_diffusion.evaluation.classifier import train_classifier
from keras_simple_diffusion.evaluation.evaluate import pooled_pixel_metrics

# The attributes read from a sample; the size is too fine to score reliably.
SCORED_ATTRIBUTES = ("shape", "colour", "position")


def train_attribute_classifiers(
    num_images=4096,
    image_size=32,
    epochs=4,
    batch_size=64,
    seed=1,
    attributes=SCORED_ATTRIBUTES,
    cache_dir=None,
    verbose=0,
):
    """Trains one `ImageClassifier` per attribute on `make_shapes` images.

    Args:
        num_images: labelled images drawn with `make_shapes(..., seed=seed)`.
        image_size: side of the images (that of the samples to score).
        epochs, batch_size: training of each classifier.
        seed: seed of the data and of the classifiers' training.
        attributes: the attributes to read (names of `data.ATTRIBUTES`).
        cache_dir: optional directory of `{attribute}.keras` files; cached
            classifiers are loaded instead of trained.
        verbose: passed to `fit`.

    Returns:
        Dict attribute name -> trained classifier.
    """
    import os  # noqa: PLC0415

    images, _, labels = make_shapes(num_images, image_size, seed=seed)
    classifiers = {}
    for attribute in attributes:
        cache_path = None if cache_dir is None else os.path.join(cache_dir, f"{attribute}.keras")
        classifiers[attribute] = train_classifier(
            images,
            labels[attribute],
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            cache_path=cache_path,
            num_classes=len(ATTRIBUTES[attribute]),
            verbose=verbose,
        )
    return classifiers


def read_attributes(classifiers, images, batch_size=256):
    """Predicted attribute indices of `images`: dict attribute -> int array."""
    images = np.asarray(images, "float32")
    return {
        attribute: np.asarray(classifier.predict_labels(images, batch_size=batch_size))
        for attribute, classifier in classifiers.items()
    }


def _prompt_attributes(prompts):
    """Prompts (caption strings) or a dict of index arrays -> dict of arrays."""
    if isinstance(prompts, dict):
        return {key: np.asarray(value) for key, value in prompts.items()}
    parsed = [parse_caption(prompt) for prompt in prompts]
    return {key: np.array([p[key] for p in parsed]) for key in ATTRIBUTES}


def prompt_adherence(classifiers, images, prompts):
    """Fraction of `images` whose read attributes match their prompt.

    Args:
        classifiers: dict attribute -> classifier (`train_attribute_classifiers`).
        images: samples (N, H, W, C) in [-1, 1].
        prompts: N captions of the form `data.caption_for` writes, or a
            dict attribute -> (N,) index arrays.

    Returns:
        Dict with `"all"` (fraction matching every scored attribute), one
        fraction per attribute, and `"num_images"`.
    """
    wanted = _prompt_attributes(prompts)
    read = read_attributes(classifiers, images)
    if not read:
        raise ValueError("`classifiers` is empty.")
    matches = {attribute: read[attribute] == wanted[attribute] for attribute in read}
    every = np.logical_and.reduce(list(matches.values()))
    result = {"all": float(np.mean(every)) if len(every) else float("nan")}
    result.update({attribute: float(np.mean(match)) for attribute, match in matches.items()})
    result["num_images"] = int(len(every))
    return result


def adherence_prompts(num_prompts, seed=3, image_size=32):
    """Random prompts over the whole vocabulary (the captions of `make_shapes`)."""
    _, captions, _ = make_shapes(num_prompts, image_size, seed=seed)
    return captions


def pixel_metrics(samples, seeds=(4, 5)):
    """`evaluate.pooled_pixel_metrics` of `samples` against real drawings
    of their size, as many of each as samples.

    A second measure that shares nothing with the attribute readers. The
    two real sets are drawn with their own random captions (`seeds`), not
    the samples' prompts, so neither is matched to the samples.
    """
    count, image_size = len(samples), samples.shape[1]
    reference, _, _ = make_shapes(count, image_size, seed=seeds[0])
    real_other, _, _ = make_shapes(count, image_size, seed=seeds[1])
    return pooled_pixel_metrics(samples, reference, real_other)


def real_image_adherence(classifiers, num_images=512, image_size=32, seed=2):
    """The measure on held-out real images with their own captions: the ceiling."""
    images, captions, _ = make_shapes(num_images, image_size, seed=seed)
    return prompt_adherence(classifiers, images, captions)
