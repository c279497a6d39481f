"""A synthetic captioned dataset of coloured shapes, drawn with NumPy.

Each image shows one shape on a black background. Four attributes describe
it, each drawn uniformly from a vocabulary: the shape, its colour, its
position on a 3x3 grid and its size. The caption spells them out, e.g.
`"a large red circle at the top left"`, so text-conditioned models can be
trained and their samples checked against the prompt.
"""

import re

import numpy as np

from keras_simple_diffusion.data.images import validate_image_size

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow", "cyan", "magenta")
POSITIONS = (
    "top left",
    "top center",
    "top right",
    "center left",
    "center",
    "center right",
    "bottom left",
    "bottom center",
    "bottom right",
)
SIZES = ("small", "large")

# Attribute name -> vocabulary, in the order `caption_for` takes them.
ATTRIBUTES = {
    "shape": SHAPES,
    "colour": COLOURS,
    "position": POSITIONS,
    "size": SIZES,
}

# RGB of each colour in `[-1, 1]`, aligned with `COLOURS`.
COLOUR_VALUES = np.array(
    [
        [1.0, -1.0, -1.0],
        [-1.0, 1.0, -1.0],
        [-1.0, -1.0, 1.0],
        [1.0, 1.0, -1.0],
        [-1.0, 1.0, 1.0],
        [1.0, -1.0, 1.0],
    ],
    dtype="float32",
)
BACKGROUND_VALUE = -1.0

# Shape radius as a fraction of the image side, aligned with `SIZES`: large
# enough for the shape to be told apart at 32 px (a 4 px radius and more).
_RADIUS_PER_IMAGE = np.array([0.13, 0.17], dtype="float32")
# Largest offset of a shape's centre from its grid point, per image side.
_JITTER_PER_IMAGE = 0.03
# Half-extent of each shape in units of its radius, aligned with `SHAPES`:
# circle radius, square half-side and triangle circumradius.
_EXTENT_PER_RADIUS = np.array([1.0, 0.85, 1.25], dtype="float32")
_IMAGES_PER_CHUNK = 1024
# Bumped whenever the drawing changes: keys caches of models trained on it.
DRAWING_VERSION = 2

_CAPTION_PATTERN = re.compile(
    r"an? (?P<size>\S+) (?P<colour>\S+) (?P<shape>\S+) at the (?P<position>.+)"
)


def _vocabulary_index(attribute, value):
    vocabulary = ATTRIBUTES[attribute]
    if isinstance(value, str):
        if value not in vocabulary:
            raise ValueError(f"Unknown {attribute} {value!r}; expected one of {vocabulary}.")
        return vocabulary.index(value)
    if not 0 <= value < len(vocabulary):
        raise ValueError(f"{attribute} index {value} is out of range for {vocabulary}.")
    return int(value)


def caption_for(shape, colour, position, size):
    """Builds the caption of a shape image from its attributes.

    Args:
        shape: index into `SHAPES` or one of its names.
        colour: index into `COLOURS` or one of its names.
        position: index into `POSITIONS` or one of its names.
        size: index into `SIZES` or one of its names.

    Returns:
        The caption, `"a {size} {colour} {shape} at the {position}"`.

    Example:

    >>> caption_for("circle", "red", "top left", "large")
    'a large red circle at the top left'
    >>> caption_for(2, 1, 4, 0)
    'a small green triangle at the center'
    """
    shape = SHAPES[_vocabulary_index("shape", shape)]
    colour = COLOURS[_vocabulary_index("colour", colour)]
    position = POSITIONS[_vocabulary_index("position", position)]
    size = SIZES[_vocabulary_index("size", size)]
    return f"a {size} {colour} {shape} at the {position}"


def parse_caption(text):
    """Parses a caption of the form `caption_for` writes back to attributes.

    Case, surrounding whitespace, repeated spaces and a final full stop are
    ignored.

    Args:
        text: a caption such as `"a large red circle at the top left"`.

    Returns:
        A dict mapping `"shape"`, `"colour"`, `"position"` and `"size"` to
        their indices in `SHAPES`, `COLOURS`, `POSITIONS` and `SIZES`.

    Raises:
        ValueError: if the caption does not have the expected form, or names
            attribute values outside the vocabularies (all unknown values are
            listed).

    Example:

    >>> parse_caption("A small blue square at the bottom right.")
    {'shape': 1, 'colour': 2, 'position': 8, 'size': 0}
    """
    normalized = " ".join(text.lower().split()).rstrip(".")
    match = _CAPTION_PATTERN.fullmatch(normalized)
    if match is None:
        raise ValueError(
            f"Cannot parse caption {text!r}: expected the form "
            "'a SIZE COLOUR SHAPE at the POSITION', "
            "e.g. 'a large red circle at the top left'."
        )
    unknown = [
        f"{attribute} {match[attribute]!r} (expected one of {vocabulary})"
        for attribute, vocabulary in ATTRIBUTES.items()
        if match[attribute] not in vocabulary
    ]
    if unknown:
        raise ValueError(f"Caption {text!r} has unknown " + "; unknown ".join(unknown) + ".")
    return {
        attribute: vocabulary.index(match[attribute])
        for attribute, vocabulary in ATTRIBUTES.items()
    }


def _coverage(shape, x, y, radius):
    """Anti-aliased coverage in `[0, 1]` of shapes centred at the origin.

    `x` (shaped `(N, 1, W)`) and `y` (shaped `(N, H, 1)`) are pixel-centre
    offsets from each shape's centre; `shape` and `radius` are per-image,
    shaped `(N, 1, 1)`.
    """
    extent = radius * _EXTENT_PER_RADIUS[shape]
    circle = np.sqrt(x**2 + y**2) - extent
    square = np.maximum(np.abs(x), np.abs(y)) - extent
    # Pointing up (image y grows downwards): the outward edge normals point
    # away from the three vertices, and the inradius is half the
    # circumradius.
    edge_distance = np.maximum(0.866 * x - 0.5 * y, -0.866 * x - 0.5 * y)
    triangle = np.maximum(y, edge_distance) - extent / 2.0
    signed_distance = np.select([shape == 0, shape == 1], [circle, square], triangle)
    return np.clip(0.5 - signed_distance, 0.0, 1.0)


def make_shapes(num_images, image_size=32, seed=0):
    """Draws a captioned dataset of coloured shapes on a black background.

    Every attribute is drawn uniformly at random from its vocabulary. Each
    shape is centred near the point of a 3x3 grid named by its position
    (jittered by up to 3 % of the image side) and lies inside the image.
    Edges are anti-aliased.

    Args:
        num_images: number of images to draw.
        image_size: side of the square images, in pixels. Small shapes need
            about 24 pixels or more to stay recognisable.
        seed: integer seed; the same seed gives the same dataset.

    Returns:
        A tuple `(images, captions, attributes)`: float32 images of shape
        `(num_images, image_size, image_size, 3)` in `[-1, 1]`, a list of
        caption strings, and a dict mapping `"shape"`, `"colour"`,
        `"position"` and `"size"` to int32 arrays of vocabulary indices.

    Example:

    >>> images, captions, attributes = make_shapes(4, image_size=32, seed=0)
    >>> images.shape
    (4, 32, 32, 3)
    >>> captions[0] == caption_for(*(attributes[k][0] for k in ATTRIBUTES))
    True
    """
    image_size = validate_image_size(image_size)
    if num_images < 0:
        raise ValueError(f"`num_images` must be non-negative. Received: {num_images}")
    rng = np.random.default_rng(seed)
    attributes = {
        attribute: rng.integers(len(vocabulary), size=num_images).astype("int32")
        for attribute, vocabulary in ATTRIBUTES.items()
    }
    shape, colour = attributes["shape"], attributes["colour"]
    row, column = np.divmod(attributes["position"], 3)
    radius = _RADIUS_PER_IMAGE[attributes["size"]] * image_size
    jitter = _JITTER_PER_IMAGE * image_size
    # Grid points as far apart as possible with the largest shape, jittered,
    # inside the image (its outermost point at least half a pixel in).
    margin = _EXTENT_PER_RADIUS.max() * _RADIUS_PER_IMAGE.max() * image_size + jitter + 0.5
    grid = np.array([margin, image_size / 2.0, image_size - margin], "float32")
    offsets = rng.uniform(-jitter, jitter, size=(2, num_images))
    center_x = grid[column] + offsets[0]
    center_y = grid[row] + offsets[1]

    pixel_centers = np.arange(image_size, dtype="float32") + 0.5
    images = np.empty((num_images, image_size, image_size, 3), "float32")
    for start in range(0, num_images, _IMAGES_PER_CHUNK):
        chunk = slice(start, start + _IMAGES_PER_CHUNK)
        x = pixel_centers[None, None, :] - center_x[chunk, None, None]
        y = pixel_centers[None, :, None] - center_y[chunk, None, None]
        coverage = _coverage(shape[chunk, None, None], x, y, radius[chunk, None, None])
        colour_values = COLOUR_VALUES[colour[chunk]][:, None, None, :]
        images[chunk] = BACKGROUND_VALUE + coverage[..., None] * (colour_values - BACKGROUND_VALUE)
    captions = [
        caption_for(*(attributes[name][index] for name in ATTRIBUTES))
        for index in range(num_images)
    ]
    return images, captions, attributes
