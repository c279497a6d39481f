"""Spec-driven loading of image datasets into batched `tf.data` pipelines.

`load_dataset` turns a short spec (`"digits"`, `"shapes"`,
`"tfds:mnist:test"`, a folder, a `.npz` file) or in-memory data into a
`DatasetInfo`: a batched `tf.data.Dataset` of float32 images in `[-1, 1]`
plus what a model needs to know about it. `tf.data` pipelines work with
`Model.fit` on every Keras backend. Nothing is ever downloaded.
"""

import dataclasses
import difflib
import os
import zipfile
import zlib

import numpy as np
import tensorflow as tf

from keras_simple_diffusion.data import emoji, fashion
from keras_simple_diffusion.data.checks import check_images, infer_num_classes
from keras_simple_diffusion.data.digits import DIGIT_CLASS_NAMES, load_digits
from keras_simple_diffusion.data.folders import (
    DEFAULT_BACKGROUND,
    DEFAULT_FIT,
    DEFAULT_MAX_PIXELS,
    check_folder_options,
    load_folder,
)
from keras_simple_diffusion.data.images import (
    standardize_images,
    validate_channels,
    validate_image_size,
)
from keras_simple_diffusion.data.shapes import make_shapes
from keras_simple_diffusion.data.specs import source_name

DEFAULT_IMAGE_SIZE = 32
DEFAULT_SHAPES_IMAGES = 4096
ACCEPTED_SOURCES = (
    "'digits' (scikit-learn's bundled 8x8 digits)",
    "'shapes' or 'shapes:NUM_IMAGES' (synthetic captioned shapes)",
    "'fashion[:train|:test][:text]' (Fashion-MNIST's IDX files, found locally)",
    "'emoji[:group|:name][:GROUP...]' (Noto Color Emoji, captioned or labelled by group or name)",
    "'tfds:NAME[:SPLIT]' (a TFDS dataset already prepared in data_dir)",
    "a directory of images (class subfolders give labels)",
    "a path ending in '.npz' with an 'images' and an optional 'labels' array",
    "a tf.data.Dataset of images or (image, label) pairs",
    "an images array or an (images, labels) pair of arrays",
)
_SHUFFLE_BUFFER = 10_000


@dataclasses.dataclass
class DatasetInfo:
    """A batched image dataset and what a model needs to know about it.

    Attributes:
        dataset: a `tf.data.Dataset` of float32 image batches
            `(batch, image_size, image_size, channels)` in `[-1, 1]`. It
            yields `(images, labels)` with int32 labels for labelled data,
            `(images, captions)` with string captions for captioned data, and
            images alone otherwise.
        image_size: side of the square images, in pixels.
        channels: number of image channels, 1 or 3.
        num_examples: number of examples in one pass, or `None` if unknown.
        num_classes: number of classes of labelled data, else `None`.
        class_names: the name of each class of labelled data, else `None`.
        images: all images as a float32 array in `[-1, 1]` when the source
            is held in memory (digits, shapes, `.npz`, arrays), else `None`.
        labels: the int32 labels matching `images`, when there are some.
        captions: the captions matching `images`, for captioned data.
    """

    dataset: tf.data.Dataset
    image_size: int
    channels: int
    num_examples: int | None
    num_classes: int | None = None
    class_names: list[str] | None = None
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    captions: list[str] | None = None


def load_dataset(
    source="digits",
    image_size=None,
    channels=None,
    batch_size=64,
    shuffle=True,
    seed=0,
    repeat=False,
    drop_remainder=True,
    data_dir=None,
    background=DEFAULT_BACKGROUND,
    fit=DEFAULT_FIT,
    max_pixels=DEFAULT_MAX_PIXELS,
    cache=True,
    quiet=False,
):
    """Loads an image dataset as a batched `tf.data` pipeline.

    Accepted sources:

    - `"digits"`: scikit-learn's 1797 bundled handwritten digits, labelled
      0..9, 32x32 greyscale unless `image_size`/`channels` say otherwise.
    - `"shapes"` or `"shapes:NUM_IMAGES"`: `make_shapes` images (4096 by
      default, always drawn with seed 0 so every run sees the same data),
      yielded with their captions.
    - `"fashion[:train|:test][:text]"`: Fashion-MNIST (`data.fashion`),
      60,000 training or 10,000 test images, labelled with the 10 classes,
      or captioned "a photo of a sandal" with `:text`. The 28 x 28 images
      are padded with their black background to 32 x 32 (no resampling),
      then resized if `image_size` asks for another size than 32 (28 keeps
      them as stored). The IDX files are read from `data_dir`,
      `$KSD_FASHION_MNIST_DIR`, Keras' cache or Debian's folder.
    - `"emoji[:group|:name][:GROUP...]"`: the single-code-point emoji of
      the Noto Color Emoji font (`data.emoji`), about 1,400 colour images of
      128 px on white, captioned with their Unicode names, or labelled with
      their Unicode groups (`:group`) or each as its own class (`:name`,
      the class named by the caption); group slugs such as `:food-drink` keep
      those groups only. The font is found at `data_dir` (the file or its
      folder), `$KSD_EMOJI_FONT` or the standard font folders; the drawn
      set is cached.
    - `"tfds:NAME[:SPLIT]"` (split `"train"` by default, slices such as
      `"train[:10%]"` work): a TensorFlow Datasets dataset that is already
      prepared in `data_dir` (or TFDS's default directory). Its `"image"`
      feature is used, and its `"label"` feature when it is a class label.
      It is never downloaded: an unprepared dataset raises `RuntimeError`
      at once explaining how to prepare it elsewhere, and an unknown name
      raises `ValueError` listing the datasets prepared in `data_dir`.
    - A folder of image files, read by `folders.load_folder`: each
      top-level subfolder holding images is a class (sorted by name), with
      its images found recursively beneath it, and images directly in the
      folder are then ignored; a folder without such subfolders is
      unlabelled. Files that cannot be read, or have more than `max_pixels`
      pixels, are skipped (a stderr line each, a warning counting them).
      Large images are decoded at reduced size, transparency is composited
      onto `background`, and each image is centre-cropped (`fit="crop"`) or
      padded (`fit="pad"`) to a square, never stretched, then resized to
      `image_size`, which defaults to the shorter side of the first readable
      image. The decoded set is cached under `$KSD_CACHE_DIR/folders`
      unless `cache=False`; a changed folder is read again.
    - A path ending in `.npz` holding an `"images"` array and optionally
      `"labels"`. See "Arrays" for how pixel values are read. Files that
      are not such an archive, or that need unpickling, raise `ValueError`.
    - A `tf.data.Dataset` yielding single images or `(image, label)` pairs
      (batched ones are unbatched first). Integer images are read as
      `[0, 255]`, float images as `[-1, 1]`. Labels are passed through, so
      `num_classes` is `None`.
    - Arrays: an images array `(N, H, W[, C])` or an `(images, labels)`
      pair. Integer images must lie in `[0, 255]` and float images in
      `[-1, 1]`; anything else (NaN included) raises `ValueError`.
      Non-square images need `image_size`. Labels must be non-negative
      integers; `num_classes` is their maximum plus one, refused when most
      classes would have no example or above `checks.MAX_CLASSES`.

    Training pipelines drop the last partial batch by default so batch shapes
    stay static, which `jit`/XLA compile once.

    Args:
        source: one of the sources above.
        image_size: side of the square output images, or `None` for the
            source's own size (32 for digits and shapes).
        channels: 1 or 3 to convert the images, or `None` for the source's
            own (RGB for directories).
        batch_size: number of examples per batch.
        shuffle: whether to shuffle the examples (reshuffled every epoch).
        seed: integer seed of the shuffling.
        repeat: whether to repeat the dataset indefinitely.
        drop_remainder: whether to drop the last batch when it is smaller
            than `batch_size`.
        data_dir: the folder of a named source's files: the TFDS data
            directory for `"tfds:"` sources, the IDX files for `"fashion"`,
            the font file or its folder for `"emoji"`.
        background: for folders, the colour behind transparent pixels and
            around padded images: "white", "black", "R,G,B" or three ints.
        fit: for folders, "crop" (the centre square) or "pad" (the whole
            image, centred on a square of the background).
        max_pixels: for folders, files with more pixels are skipped.
        cache: for folders, read and write the decoded images' cache.
        quiet: for folders, print no progress and no summary.

    Returns:
        A `DatasetInfo`.

    Raises:
        ValueError: for an unknown source, a missing or empty directory, a
            non-positive `image_size`, fewer examples than one batch when
            dropping the remainder, and other invalid inputs.
        RuntimeError: for a TFDS dataset that is not prepared locally.

    Example:

    >>> info = load_dataset("digits", image_size=16, batch_size=32)
    >>> images, labels = next(iter(info.dataset))
    >>> images.shape, info.num_classes
    (TensorShape([32, 16, 16, 1]), 10)
    """
    if image_size is not None:
        image_size = validate_image_size(image_size)
    validate_channels(channels)
    background, fit, max_pixels = check_folder_options(background, fit, max_pixels)
    folder_options = dict(
        background=background, fit=fit, max_pixels=max_pixels, cache=cache, quiet=quiet
    )
    if isinstance(batch_size, bool) or not (isinstance(batch_size, int) and batch_size > 0):
        raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size!r}")
    info = _load_examples(source, image_size, channels, shuffle, seed, data_dir, folder_options)
    if drop_remainder and info.num_examples is not None and info.num_examples < batch_size:
        raise ValueError(
            f"The dataset has {info.num_examples} examples, fewer than "
            f"batch_size={batch_size}, so dropping the remainder would leave "
            "no batch. Use a smaller batch_size or drop_remainder=False."
        )
    dataset = info.dataset
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(
        batch_size,
        drop_remainder=drop_remainder,
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataclasses.replace(info, dataset=dataset.prefetch(tf.data.AUTOTUNE))


def held_out_split(source):
    """The spec of the test split that a training source holds out, or None:
    "fashion:test" for "fashion" and "fashion:train" (with ":text" kept)."""
    if not isinstance(source, str) or source_name(source) != "fashion":
        return None
    split, text = fashion.parse_fashion_spec(source)
    if split == "test":
        return None
    return "fashion:test:text" if text else "fashion:test"


def _unknown_source_error(source):
    accepted = "\n".join(f"  - {form}" for form in ACCEPTED_SOURCES)
    return ValueError(f"Unknown dataset source {source!r}. Accepted forms:\n{accepted}")


def _load_examples(source, image_size, channels, shuffle, seed, data_dir, folder_options):
    """Returns a `DatasetInfo` whose dataset yields single shuffled examples."""
    if isinstance(source, tf.data.Dataset):
        return _from_tf_dataset(source, image_size, channels, shuffle, seed)
    if isinstance(source, np.ndarray):
        return _from_arrays(source, image_size, channels, shuffle, seed)
    if isinstance(source, tuple) and len(source) == 2:
        images, labels = source
        return _from_arrays(images, image_size, channels, shuffle, seed, labels=labels)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise _unknown_source_error(source)
    if source == "digits":
        images, labels = load_digits(image_size or DEFAULT_IMAGE_SIZE)
        return _from_arrays(
            images,
            image_size,
            channels,
            shuffle,
            seed,
            labels=labels,
            class_names=list(DIGIT_CLASS_NAMES),
            source="'digits'",
        )
    if source_name(source) == "shapes":
        images, captions, _ = make_shapes(
            _shapes_count(source), image_size or DEFAULT_IMAGE_SIZE, seed=0
        )
        return _from_arrays(
            images, image_size, channels, shuffle, seed, captions=captions, source=repr(source)
        )
    if source_name(source) == "fashion":
        return _from_fashion(source, image_size, channels, shuffle, seed, data_dir)
    if source_name(source) == "emoji":
        return _from_emoji(source, image_size, channels, shuffle, seed, data_dir)
    if source.startswith("tfds:"):
        return _from_tfds(source, image_size, channels, shuffle, seed, data_dir)
    path = os.path.expanduser(source)
    if path.lower().endswith(".npz"):
        return _from_npz(path, image_size, channels, shuffle, seed)
    looks_like_path = "/" in source or os.sep in source or source.startswith((".", "~"))
    if os.path.isdir(path) or looks_like_path:
        return _from_directory(path, image_size, channels, shuffle, seed, folder_options)
    raise _unknown_source_error(source)


def _shapes_count(source):
    if source == "shapes":
        return DEFAULT_SHAPES_IMAGES
    count = source.removeprefix("shapes:")
    if not count.isdigit() or int(count) == 0:
        raise ValueError(
            f"Expected 'shapes:NUM_IMAGES' with a positive integer. Received: {source!r}"
        )
    return int(count)


def _from_fashion(source, image_size, channels, shuffle, seed, data_dir):
    split, text = fashion.parse_fashion_spec(source)
    images, labels = fashion.load_fashion(split, data_dir)
    if image_size != fashion.IMAGE_SIDE:
        images = fashion.pad_to_32(images)
    targets = (
        dict(captions=[fashion.class_prompt(fashion.CLASS_NAMES[label]) for label in labels])
        if text
        else dict(labels=labels, class_names=list(fashion.CLASS_NAMES))
    )
    return _from_arrays(images, image_size, channels, shuffle, seed, **targets, source=repr(source))


def _from_emoji(source, image_size, channels, shuffle, seed, data_dir):
    conditioning, groups = emoji.parse_emoji_spec(source)
    drawn = emoji.select_groups(emoji.load_emoji(data_dir), groups)
    if conditioning == "text":
        targets = dict(captions=[str(caption) for caption in drawn["captions"]])
    else:
        labels, class_names = (
            emoji.group_labels(drawn["groups"])
            if conditioning == "group"
            else emoji.name_labels(drawn["captions"])
        )
        targets = dict(labels=labels, class_names=class_names)
    return _from_arrays(
        drawn["images"], image_size, channels, shuffle, seed, **targets, source=repr(source)
    )


def _check_pixel_range(images, source):
    """Raises `ValueError` unless integer images are in `[0, 255]` and others pass `check_images`."""
    if np.issubdtype(images.dtype, np.integer) and images.size:
        low, high = images.min(), images.max()
        if low < 0 or high > 255:
            raise ValueError(
                f"Integer images in {source} must hold pixel values in [0, 255]; "
                f"found values in [{low}, {high}]."
            )
    else:
        check_images(images, source)


def _from_arrays(
    images,
    image_size,
    channels,
    shuffle,
    seed,
    labels=None,
    captions=None,
    class_names=None,
    source="the images array",
):
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(
            f"Images in {source} must have shape (N, H, W) or (N, H, W, C). "
            f"Received: {images.shape}"
        )
    height, width = images.shape[1:3]
    if image_size is None and height != width:
        raise ValueError(
            f"Images in {source} are {height}x{width}, not square: pass image_size "
            "(--image-size on the command line) to centre-crop and resize them to a square."
        )
    _check_pixel_range(images, source)
    images = standardize_images(images, image_size, channels).numpy()
    num_classes = None
    targets = None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(
                f"Labels in {source} must be {len(images)} integers, one per image. "
                f"Received shape: {labels.shape}"
            )
        num_classes = infer_num_classes(labels, source)
        labels = labels.astype("int32")
        class_names = class_names or [str(label) for label in range(num_classes)]
        targets = labels
    elif captions is not None:
        targets = np.asarray(captions)
    slices = images if targets is None else (images, targets)
    dataset = tf.data.Dataset.from_tensor_slices(slices)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed)
    return DatasetInfo(
        dataset=dataset,
        image_size=images.shape[1],
        channels=images.shape[-1],
        num_examples=len(images),
        num_classes=num_classes,
        class_names=class_names,
        images=images,
        labels=labels,
        captions=captions,
    )


def _read_npz(path):
    """Returns the `images` and `labels` (or `None`) arrays of an `.npz` file."""
    try:
        loaded = np.load(path)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not named arrays")
        with loaded:
            if "images" not in loaded.files:
                raise ValueError(f"it has no 'images' array, only {loaded.files}")
            labels = loaded["labels"] if "labels" in loaded.files else None
            return loaded["images"], labels
    except (EOFError, OSError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        # numpy asks for `allow_pickle` on pickled files and object arrays,
        # which are never unpickled here: untrusted data could run code.
        reason = "it needs unpickling" if "allow_pickle" in str(error) else str(error)
        raise ValueError(
            f"{path!r} is not a valid .npz of images (and labels): {reason}."
        ) from None


def _from_npz(path, image_size, channels, shuffle, seed):
    if not os.path.isfile(path):
        raise ValueError(f"The .npz file {path!r} does not exist.")
    images, labels = _read_npz(path)
    return _from_arrays(
        images, image_size, channels, shuffle, seed, labels=labels, source=repr(path)
    )


def _native_image_size(height, width, source):
    """The square size to use when `image_size` is `None`."""
    if height is None or width is None:
        raise ValueError(f"{source} has images of varying size; pass `image_size`.")
    return min(height, width)


def _standardize_example(image_size, channels):
    """Returns a `map` function standardizing an image and int32 labels."""

    def standardize(image, *target):
        image = standardize_images(image, image_size, channels)
        if not target:
            return image
        (target,) = target
        if target.dtype.is_integer:
            target = tf.cast(target, "int32")
        return image, target

    return standardize


def _from_tf_dataset(dataset, image_size, channels, shuffle, seed):
    spec = dataset.element_spec
    image_spec = spec[0] if isinstance(spec, tuple) else spec
    if (isinstance(spec, tuple) and len(spec) != 2) or not isinstance(image_spec, tf.TensorSpec):
        raise ValueError(
            "A tf.data.Dataset source must yield images or (image, label) "
            f"pairs. Received element_spec: {spec}"
        )
    if image_spec.shape.rank == 4:
        dataset = dataset.unbatch()
    elif image_spec.shape.rank != 3:
        raise ValueError(
            "Dataset images must be (H, W, C) or batches (N, H, W, C). "
            f"Received shape: {image_spec.shape}"
        )
    height, width, native_channels = image_spec.shape[-3:]
    image_size = image_size or _native_image_size(height, width, "The dataset")
    num_examples = int(dataset.cardinality())
    if shuffle:
        dataset = dataset.shuffle(_SHUFFLE_BUFFER, seed=seed)
    dataset = dataset.map(
        _standardize_example(image_size, channels),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return DatasetInfo(
        dataset=dataset,
        image_size=image_size,
        channels=channels or min(native_channels, 3),
        num_examples=num_examples if num_examples >= 0 else None,
    )


def _prepared_tfds_datasets(data_dir):
    """Names (`NAME` or `NAME/CONFIG`) of the TFDS datasets prepared in `data_dir`."""
    names = set()
    # A prepared dataset is NAME/VERSION or NAME/CONFIG/VERSION holding its info.
    for pattern in ("*/*/dataset_info.json", "*/*/*/dataset_info.json"):
        for info_path in tf.io.gfile.glob(os.path.join(data_dir, pattern)):
            folders = os.path.relpath(os.path.dirname(info_path), data_dir).split(os.sep)
            if folders[0] != "downloads":
                names.add("/".join(folders[:-1]))
    return sorted(names)


def _local_tfds_builder(name, data_dir):
    """The builder of a TFDS dataset prepared in `data_dir`, found without network access.

    Names are resolved against the datasets prepared in `data_dir` first, so
    an unknown name fails at once, listing what is there, instead of TFDS
    looking it up elsewhere.
    """
    import tensorflow_datasets as tfds

    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    data_dir = os.path.expanduser(data_dir)
    prepared = _prepared_tfds_datasets(data_dir)
    if prepared:
        available = f"Prepared in {data_dir!r}: {', '.join(prepared)}."
    else:
        available = f"No TFDS dataset is prepared in {data_dir!r}."
    base_name = name.split("/")[0]
    not_prepared = RuntimeError(
        f"TFDS dataset {name!r} is not prepared in {data_dir!r}, and this package never "
        f"downloads data. {available} On a machine with internet access run "
        f"`tfds build {name} --data_dir=DIR`, copy DIR to this machine, then pass "
        "data_dir=DIR (--data-dir on the command line) or set TFDS_DATA_DIR=DIR."
    )
    if base_name not in {prepared_name.split("/")[0] for prepared_name in prepared}:
        try:
            tfds.builder_cls(base_name)
        except tfds.core.DatasetNotFoundError:
            known = prepared + tfds.list_builders(with_community_datasets=False)
            suggestions = difflib.get_close_matches(base_name, known, n=3)
            hint = f" Did you mean one of {suggestions}?" if suggestions else ""
            raise ValueError(f"Unknown TFDS dataset {name!r}.{hint} {available}") from None
        raise not_prepared
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except (tfds.core.DatasetNotFoundError, ValueError) as error:
        reason = str(error).strip().splitlines()[0]
        raise ValueError(f"Cannot load TFDS dataset {name!r}: {reason} {available}") from None
    if not builder.is_prepared():
        raise not_prepared
    return builder


def _from_tfds(spec, image_size, channels, shuffle, seed, data_dir):
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            "'tfds:' sources need tensorflow-datasets: pip install 'keras-simple-diffusion[data]'"
        ) from error
    name, _, split = spec.removeprefix("tfds:").partition(":")
    split = split or "train"
    if not name or ":" in split:
        raise ValueError(f"Expected 'tfds:NAME' or 'tfds:NAME:SPLIT'. Received: {spec!r}")
    builder = _local_tfds_builder(name, data_dir)
    try:
        num_examples = builder.info.splits[split].num_examples
    except (KeyError, ValueError):
        raise ValueError(
            f"TFDS dataset {name!r} has no split {split!r}; available "
            f"splits: {list(builder.info.splits)}."
        ) from None
    features = builder.info.features
    if "image" not in features:
        raise ValueError(
            f"TFDS dataset {name!r} has no 'image' feature; its features are {list(features)}."
        )
    height, width, native_channels = features["image"].shape
    image_size = image_size or _native_image_size(height, width, f"TFDS dataset {name!r}")
    labelled = "label" in features and isinstance(features["label"], tfds.features.ClassLabel)
    dataset = builder.as_dataset(
        split=split,
        shuffle_files=shuffle,
        read_config=tfds.ReadConfig(shuffle_seed=seed),
    )
    if shuffle:
        dataset = dataset.shuffle(_SHUFFLE_BUFFER, seed=seed)
    standardize = _standardize_example(image_size, channels)
    keys = ("image", "label") if labelled else ("image",)
    dataset = dataset.map(
        lambda example: standardize(*(example[key] for key in keys)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return DatasetInfo(
        dataset=dataset,
        image_size=image_size,
        channels=channels or min(native_channels, 3),
        num_examples=num_examples,
        num_classes=features["label"].num_classes if labelled else None,
        class_names=list(features["label"].names) if labelled else None,
    )


def _from_directory(directory, image_size, channels, shuffle, seed, folder_options):
    """Held in memory as uint8 (a quarter of float32) and standardized per example."""
    folder = load_folder(directory, image_size, channels, **folder_options)
    slices = folder.images if folder.labels is None else (folder.images, folder.labels)
    dataset = tf.data.Dataset.from_tensor_slices(slices)
    if shuffle:
        dataset = dataset.shuffle(len(folder.images), seed=seed)
    dataset = dataset.map(_standardize_example(None, None), num_parallel_calls=tf.data.AUTOTUNE)
    return DatasetInfo(
        dataset=dataset,
        image_size=folder.images.shape[1],
        channels=folder.images.shape[-1],
        num_examples=len(folder.images),
        num_classes=len(folder.class_names) if folder.class_names else None,
        class_names=folder.class_names,
    )
