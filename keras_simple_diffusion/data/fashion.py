"""Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) from its original IDX files.

70,000 greyscale 28 x 28 photographs of clothing in 10 classes, with a fixed
10,000-image test split. The four gzipped IDX files are the ones
`keras.datasets.fashion_mnist.load_data()` downloads into
`~/.keras/datasets/fashion-mnist/`, and the ones Debian's package
`dataset-fashion-mnist` installs into `/usr/share/datasets/fashion-mnist/`.
They are read from there (or from a folder given), never downloaded.
"""

import gzip
import os

import numpy as np

# The environment variable naming a folder of the four IDX files.
DATA_DIR_VARIABLE = "KSD_FASHION_MNIST_DIR"
# Where Keras' `load_data()` and Debian's package put the files.
STANDARD_DIRS = (
    os.path.join("~", ".keras", "datasets", "fashion-mnist"),
    os.path.join(os.sep, "usr", "share", "datasets", "fashion-mnist"),
)
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
CLASS_NAMES = (
    "T-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
IMAGE_SIDE = 28
# IDX magic numbers: two zero bytes, the type 0x08 (unsigned byte), then the
# number of dimensions.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


def class_prompt(name):
    """The caption of a class, for text conditioning: "a photo of a sandal"."""
    article = "an" if name[0].lower() in "aeiou" else "a"
    return f"a photo of {article} {name}"


def find_fashion_dir(data_dir=None):
    """The first folder holding all four IDX files: `data_dir` if given (and
    only it), else `$KSD_FASHION_MNIST_DIR`, Keras' cache, Debian's folder.

    Raises:
        FileNotFoundError: one line naming the folders searched and both
            ways to get the files.
    """
    if data_dir is not None:
        candidates = [data_dir]
    else:
        candidates = [os.environ.get(DATA_DIR_VARIABLE), *STANDARD_DIRS]
    candidates = [os.path.expanduser(folder) for folder in candidates if folder]
    needed = [name for pair in FILES.values() for name in pair]
    for folder in candidates:
        if all(os.path.isfile(os.path.join(folder, name)) for name in needed):
            return folder
    raise FileNotFoundError(
        f"Fashion-MNIST's IDX files ({needed[0]} and three more) are not in "
        f"{', '.join(candidates)}. Get them with `apt-get install dataset-fashion-mnist` "
        "(Debian/Ubuntu), or by running `keras.datasets.fashion_mnist.load_data()` once "
        f"online, or point --data-dir / ${DATA_DIR_VARIABLE} at a folder holding them."
    )


def read_idx(path, magic, shape):
    """The uint8 array of one gzipped IDX file, checked against `magic` and
    the expected `shape`; a one-line `ValueError` names the file otherwise."""
    try:
        with gzip.open(path, "rb") as file:
            data = file.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} is not a readable gzipped IDX file ({error}).") from None
    ndim = len(shape)
    header_size = 4 * (1 + ndim)
    found_magic = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found_magic != magic:
        raise ValueError(
            f"{path} has magic number {found_magic:#010x}, not {magic:#010x}: it is not "
            f"an IDX file of {ndim}-dimensional unsigned bytes."
            if found_magic is not None
            else f"{path} is truncated: {len(data)} bytes, shorter than its magic number."
        )
    if len(data) < header_size:
        raise ValueError(f"{path} is truncated: {len(data)} bytes, shorter than its header.")
    found_shape = tuple(int.from_bytes(data[4 * i : 4 * i + 4], "big") for i in range(1, ndim + 1))
    if found_shape != tuple(shape):
        raise ValueError(f"{path} holds an array of shape {found_shape}, expected {shape}.")
    expected_bytes = header_size + int(np.prod(shape))
    if len(data) != expected_bytes:
        raise ValueError(
            f"{path} has {len(data)} bytes, expected {expected_bytes} for shape {shape} "
            "(truncated or padded)."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def load_fashion(split="train", data_dir=None):
    """Fashion-MNIST's images and labels of one split, as stored.

    Args:
        split: "train" (60,000 images) or "test" (10,000).
        data_dir: a folder of the four IDX files, or None to search
            `find_fashion_dir`'s standard places.

    Returns:
        `(images, labels)`: uint8 images `(N, 28, 28)` in [0, 255] and int32
        labels in `0..9` (`CLASS_NAMES`).

    Example:
    >>> images, labels = load_fashion("test")  # doctest: +SKIP
    >>> images.shape, CLASS_NAMES[labels[0]]  # doctest: +SKIP
    ((10000, 28, 28), 'ankle boot')
    """
    if split not in FILES:
        raise ValueError(f"Fashion-MNIST has splits {sorted(FILES)}. Received: {split!r}")
    folder = find_fashion_dir(data_dir)
    images_file, labels_file = FILES[split]
    count = SPLIT_SIZES[split]
    images = read_idx(
        os.path.join(folder, images_file), _IMAGES_MAGIC, (count, IMAGE_SIDE, IMAGE_SIDE)
    )
    labels = read_idx(os.path.join(folder, labels_file), _LABELS_MAGIC, (count,))
    if labels.max() >= len(CLASS_NAMES):
        raise ValueError(
            f"{os.path.join(folder, labels_file)} holds label {labels.max()}; "
            f"Fashion-MNIST has {len(CLASS_NAMES)} classes."
        )
    return images, labels.astype("int32")


def parse_fashion_spec(spec):
    """`(split, text)` of a Fashion-MNIST source spec: "fashion",
    "fashion:test", "fashion:text", "fashion:test:text" (the split defaults
    to "train")."""
    split, text = "train", False
    for option in filter(None, spec.split(":")[1:]):
        if option in FILES:
            split = option
        elif option == "text":
            text = True
        else:
            raise ValueError(
                f"Unknown Fashion-MNIST option {option!r} in {spec!r}; expected "
                "'fashion[:train|:test][:text]'."
            )
    return split, text


def pad_to_32(images):
    """28 x 28 images padded with their black background to 32 x 32, a size
    that the networks' factor-2 downsamplings divide, without resampling."""
    margin = (32 - IMAGE_SIDE) // 2
    return np.pad(images, ((0, 0), (margin, margin), (margin, margin)))
