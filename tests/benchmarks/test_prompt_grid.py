"""benchmarks/prompt_grid.py: the prompts it draws and the figure it saves."""

import numpy as np
import pytest
from PIL import Image

from benchmarks import prompt_grid


def test_prompts_are_distinct_seeded_captions_with_their_indices():
    captions = np.array([f"caption {i}" for i in range(20)])
    prompts, indices = prompt_grid.choose_prompts(captions, 5, seed=3)
    again, _ = prompt_grid.choose_prompts(captions, 5, seed=3)
    assert prompts == again and len(set(prompts)) == 5
    assert [str(captions[index]) for index in indices] == prompts
    with pytest.raises(ValueError, match=r"--count must be in \[1, 20\]"):
        prompt_grid.choose_prompts(captions, 21, seed=0)


@pytest.mark.parametrize("with_real", [False, True])
def test_the_figure_has_a_row_of_real_images_under_the_samples_when_given(tmp_path, with_real):
    rng = np.random.default_rng(0)
    samples = rng.uniform(-1, 1, (5, 16, 16, 3))
    real = rng.uniform(-1, 1, (5, 16, 16, 3)) if with_real else None
    path = tmp_path / "grid.png"
    prompt_grid.draw(samples, ["a long prompt " * 4] * 5, path, real, columns=3)
    width, height = Image.open(path).size
    # Two rows of three (1.3 in a column, 1.75 in a row), twice as tall with real images.
    assert (width, height) == (390, 350 * (2 if with_real else 1))
