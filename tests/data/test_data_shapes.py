import itertools

import numpy as np
import pytest

from keras_simple_diffusion.data import (
    ATTRIBUTES,
    COLOURS,
    POSITIONS,
    SHAPES,
    SIZES,
    caption_for,
    make_shapes,
    parse_caption,
)

IMAGE_SIZE = 48
# Which RGB channels are lit for each colour name.
LIT_CHANNELS = {
    "red": (True, False, False),
    "green": (False, True, False),
    "blue": (False, False, True),
    "yellow": (True, True, False),
    "cyan": (False, True, True),
    "magenta": (True, False, True),
}


def _grid_cell(position_name):
    """(row, column) of a position name, read from its words."""
    words = position_name.split()
    row = 0 if "top" in words else 2 if "bottom" in words else 1
    column = 0 if "left" in words else 2 if "right" in words else 1
    return row, column


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(600, image_size=IMAGE_SIZE, seed=7)


def test_make_shapes_outputs(shapes):
    images, captions, attributes = shapes
    assert images.shape == (600, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert len(captions) == 600
    assert set(attributes) == {"shape", "colour", "position", "size"}
    for name, vocabulary in ATTRIBUTES.items():
        assert attributes[name].dtype == np.int32
        # 600 uniform draws cover every value of each vocabulary.
        np.testing.assert_array_equal(np.unique(attributes[name]), np.arange(len(vocabulary)))


def test_make_shapes_is_deterministic_from_the_seed(shapes):
    images, captions, attributes = make_shapes(600, IMAGE_SIZE, seed=7)
    np.testing.assert_array_equal(images, shapes[0])
    assert captions == shapes[1]
    other_images, other_captions, _ = make_shapes(600, IMAGE_SIZE, seed=8)
    assert other_captions != captions
    assert not np.array_equal(other_images, images)


def test_captions_match_attributes(shapes):
    _, captions, attributes = shapes
    for index, caption in enumerate(captions):
        parsed = parse_caption(caption)
        assert parsed == {name: attributes[name][index] for name in ATTRIBUTES}


def test_drawn_shapes_match_their_captions(shapes):
    images, captions, _ = shapes
    cell = IMAGE_SIZE / 3
    centers = np.arange(IMAGE_SIZE) + 0.5
    areas = {}
    for image, caption in zip(images, captions):
        attributes = parse_caption(caption)
        # Coverage of the shape: how far each pixel is from the background.
        coverage = (image + 1.0).max(axis=-1) / 2.0
        total = coverage.sum()
        row, column = _grid_cell(POSITIONS[attributes["position"]])
        centroid_y = (coverage.sum(axis=1) * centers).sum() / total
        centroid_x = (coverage.sum(axis=0) * centers).sum() / total
        assert row * cell <= centroid_y < (row + 1) * cell, caption
        assert column * cell <= centroid_x < (column + 1) * cell, caption
        # The whole shape is inside the image: at most its anti-aliased rim
        # reaches the centres of the border pixels.
        border = np.concatenate([coverage[[0, -1]].ravel(), coverage[:, [0, -1]].ravel()])
        assert border.max() <= 0.5 + 1e-6, caption
        # The fully covered pixels have the named colour.
        solid = image[coverage == 1.0]
        lit = tuple(solid.mean(axis=0) > 0.9)
        assert lit == LIT_CHANNELS[COLOURS[attributes["colour"]]], caption
        assert np.all(np.abs(solid) > 0.99), caption
        # A shape fills a known share of its bounding box.
        ys, xs = np.nonzero(coverage > 0.5)
        box = (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
        fill = (coverage > 0.5).sum() / box
        expected_fill = {"circle": np.pi / 4, "square": 1.0, "triangle": 0.5}
        shape = SHAPES[attributes["shape"]]
        assert fill == pytest.approx(expected_fill[shape], abs=0.17), caption
        areas.setdefault((shape, SIZES[attributes["size"]]), []).append(total)
    for shape in SHAPES:
        assert min(areas[shape, "large"]) > 1.5 * max(areas[shape, "small"])


def test_caption_for_accepts_names_and_indices():
    assert caption_for("circle", "red", "top left", "large") == (
        "a large red circle at the top left"
    )
    assert caption_for(2, 1, 4, 0) == "a small green triangle at the center"
    with pytest.raises(ValueError, match="Unknown colour 'purple'"):
        caption_for("circle", "purple", "center", "small")
    with pytest.raises(ValueError, match="out of range"):
        caption_for(len(SHAPES), 0, 0, 0)


def test_parse_caption_round_trips_every_combination():
    for combination in itertools.product(
        range(len(SHAPES)),
        range(len(COLOURS)),
        range(len(POSITIONS)),
        range(len(SIZES)),
    ):
        expected = dict(zip(ATTRIBUTES, combination))
        assert parse_caption(caption_for(*combination)) == expected


def test_parse_caption_normalizes_case_spacing_and_full_stop():
    assert parse_caption("  A Small BLUE square at  the bottom right. ") == {
        "shape": 1,
        "colour": 2,
        "position": 8,
        "size": 0,
    }


def test_parse_caption_names_every_unknown_value():
    with pytest.raises(ValueError) as error:
        parse_caption("a huge purple circle at the middle")
    message = str(error.value)
    assert "size 'huge'" in message
    assert "colour 'purple'" in message
    assert "position 'middle'" in message
    assert "shape" not in message.split("unknown")[1].split("(")[0]


def test_parse_caption_rejects_other_forms():
    with pytest.raises(ValueError, match="expected the form"):
        parse_caption("red circle top left")
