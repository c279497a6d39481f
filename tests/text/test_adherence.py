"""The prompt-adherence measure (no training: stub attribute readers)."""

import numpy as np

from keras_simple_diffusion.data import make_shapes
from keras_simple_diffusion.evaluation.adherence import (
    SCORED_ATTRIBUTES,
    adherence_prompts,
    pixel_metrics,
    prompt_adherence,
)


class _Reader:
    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def predict_labels(self, images, batch_size=256):
        return self.labels[: len(images)]


def test_prompt_adherence_counts_all_attributes():
    images, captions, attributes = make_shapes(10, 32, seed=0)
    readers = {name: _Reader(attributes[name]) for name in SCORED_ATTRIBUTES}
    assert prompt_adherence(readers, images, captions)["all"] == 1.0
    wrong_colour = (attributes["colour"] + 1) % 6
    wrong_colour[:5] = attributes["colour"][:5]
    readers["colour"] = _Reader(wrong_colour)
    result = prompt_adherence(readers, images, captions)
    assert result["all"] == 0.5 and result["colour"] == 0.5 and result["shape"] == 1.0
    assert result["num_images"] == 10
    # Attribute dicts work as prompts too.
    assert prompt_adherence(readers, images, attributes)["all"] == 0.5


def test_adherence_prompts_are_captions():
    prompts = adherence_prompts(5, seed=3)
    assert len(prompts) == 5 and all(p.startswith("a ") for p in prompts)


def test_pixel_metrics_put_real_drawings_near_one_and_blank_images_far():
    drawings, _, _ = make_shapes(256, 32, seed=11)
    real = pixel_metrics(drawings)
    fd, real_fd = real["pixel_frechet_distance"], real["real_pixel_frechet_distance"]
    assert real["pixel_fd_ratio"] == fd / real_fd
    assert 0.5 < fd / real_fd < 1.5
    blank = pixel_metrics(np.full_like(drawings, -1.0))
    # The real-vs-real reference depends on the count only.
    assert blank["real_pixel_frechet_distance"] == real_fd
    assert blank["pixel_frechet_distance"] / real_fd > 5.0
