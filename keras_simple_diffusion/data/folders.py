"""Folders of image files as training data, read as real folders are.

`load_folder` reads every image file of a folder into one uint8 array of
square images, with these rules:

- Labels: each top-level subfolder holding images is a class (sorted by
  name), its images found recursively beneath it; images directly in the
  folder are then ignored. A folder with no such subfolder is unlabelled.
  Hidden files and folders (names starting with ".") are skipped.
- Robust decoding: a file that cannot be read, or whose width x height
  exceeds `max_pixels`, is skipped with one line on stderr, and a warning
  counts the skipped files at the end; nothing raises for one bad file.
- Bounded memory: a large image is never decoded at full size only to be
  shrunk. JPEGs are decoded at reduced size (`Image.draft`). Large PNGs are
  decoded band by band, each band box-averaged down (`Image.reduce`) before
  the next is read, so memory stays near `BAND_PIXELS` pixels whatever the
  file's size. Other formats, and interlaced or 16-bit colour PNGs, are
  decoded whole, so `max_pixels` bounds their memory.
- Transparency: alpha (RGBA, LA, and palette or greyscale images with a
  transparent colour) is composited onto `background`, white by default.
- Aspect ratio, never stretched: `fit="crop"` (the default) keeps the
  centre square; `fit="pad"` keeps the whole image, centred on a square of
  the background colour.
- Many files: progress is shown while reading, and the decoded set is
  cached as an `.npz` under `$KSD_CACHE_DIR/folders`, keyed by the folder,
  its files' names, sizes and modification times, and the options. A
  changed folder or option reads the files again; an unreadable cache file
  is rebuilt.

Free of TensorFlow and Keras: `datasets.load_dataset` makes the pipeline.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np
from PIL import Image, ImageOps

from keras_simple_diffusion import checks, files
from keras_simple_diffusion.progress import Progress

# File name endings read as images; any other file is ignored.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")
FITS = ("crop", "pad")
DEFAULT_FIT = "crop"
DEFAULT_BACKGROUND = "white"
# Pillow's own decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`), which
# users of image tools know: about 179 million pixels, e.g. 13,400 x 13,400.
# Files up to it decode in bounded memory (PNG, JPEG) or at most about 0.7 GB
# (RGBA, other formats); beyond it a file is more likely a mistake or an
# attack than a training image.
DEFAULT_MAX_PIXELS = 178_956_970
# A PNG above this many pixels is decoded in bands of about this many pixels.
BAND_PIXELS = 1 << 20
# Images are box-averaged (`reduce`) to at least this many times the output
# size before the final resize, which then stays smooth.
REDUCE_MARGIN = 2
# With no `image_size`, the first image's shorter side is used, up to this.
LARGEST_DEFAULT_SIZE = 512
# Skipped files named one per line; the rest are only counted.
SKIPPED_FILES_SHOWN = 20
CACHE_FOLDER = "folders"
# Part of every cache key: a new version invalidates the caches of older code.
CACHE_VERSION = 1
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Bytes per pixel of PNG filtering -> the Pillow mode holding those bytes as
# they are, so that a band's last unfiltered row can be read back.
_IDENTITY_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
# PNG colour type -> samples per pixel.
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# What a file that cannot be decoded raises in Pillow, zlib or the band reader
# (MemoryError: a file decoded whole, within `max_pixels`, that does not fit).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    zlib.error,
    struct.error,
    MemoryError,
)


@dataclasses.dataclass
class FolderImages:
    """The images of a folder, as `load_folder` read them.

    Attributes:
        images: uint8 array `(N, image_size, image_size, channels)`.
        labels: int32 class indices, one per image, or `None` for a folder
            without class subfolders.
        class_names: the class subfolders' names, or `None`.
        skipped: `(relative path, reason)` of each file that was skipped.
        cache_path: the `.npz` the images were read from or written to, or
            `None` without caching.
        from_cache: whether the images came from the cache.
    """

    images: np.ndarray
    labels: np.ndarray | None
    class_names: list[str] | None
    skipped: list[tuple[str, str]]
    cache_path: str | None = None
    from_cache: bool = False


class _Skipped(Exception):
    """A file that is skipped, with the reason as its message."""


def check_folder_options(background, fit, max_pixels):
    """The checked folder options: `(background RGB tuple, fit, max_pixels)`."""
    return (
        checks.check_colour("background", background),
        checks.check_choice("fit", fit, FITS),
        checks.check_positive_int("max_pixels", max_pixels),
    )


def load_folder(
    directory,
    image_size=None,
    channels=None,
    background=DEFAULT_BACKGROUND,
    fit=DEFAULT_FIT,
    max_pixels=DEFAULT_MAX_PIXELS,
    cache=True,
    quiet=False,
):
    """Reads every image file of `directory` (see the module docstring).

    Args:
        directory: the folder.
        image_size: side of the square output images; `None` takes the
            shorter side of the first readable image (by sorted path),
            refused above `LARGEST_DEFAULT_SIZE`.
        channels: 1 or 3 (the default).
        background: colour behind transparent pixels and around padded
            images: "white", "black", "R,G,B" or three integers.
        fit: "crop" (centre square) or "pad" (whole image on a square).
        max_pixels: files with more pixels (width x height) are skipped.
        cache: read and write the decoded set under `$KSD_CACHE_DIR/folders`.
        quiet: print no progress and no summary (skipped files are still
            named).

    Returns:
        A `FolderImages`.

    Raises:
        ValueError: for a missing folder, no image files, no readable image,
            a bad option, or large images without `image_size`.
    """
    background, fit, max_pixels = check_folder_options(background, fit, max_pixels)
    channels = channels or 3
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"Image directory {directory!r} does not exist.")
    class_names, entries, ignored = list_image_files(directory)
    if not entries:
        raise ValueError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) found in {directory!r}.")
    options = dict(
        image_size=image_size,
        channels=channels,
        background=background,
        fit=fit,
        max_pixels=max_pixels,
    )
    cache_path = _cache_path(directory, entries, options) if cache else None
    folder = _read_cache(cache_path) if cache else None
    if folder is None:
        with Progress(len(entries), f"reading {directory}", unit="images", quiet=quiet) as progress:
            folder = _decode_all(directory, class_names, entries, options, progress)
        folder.cache_path = cache_path
        if cache:
            _write_cache(folder)
    _name_skipped(folder.skipped)
    if not len(folder.images):
        raise ValueError(
            f"None of the {len(entries)} image files in {directory!r} could be read "
            f"({folder.skipped[0][0]}: {folder.skipped[0][1]})."
        )
    if folder.skipped:
        warnings.warn(_skipped_summary(directory, folder.skipped, len(entries)), stacklevel=2)
    if not quiet:
        print(_summary(directory, folder, ignored), file=sys.stderr, flush=True)
    return folder


def list_image_files(directory):
    """`(class_names, entries, ignored)` of a folder, by the labelling rule.

    `entries` are `(path relative to directory, class name or None)`, sorted;
    `ignored` counts the images directly in a folder with classes.
    """
    top_files, classes = [], {}
    for entry in sorted(os.scandir(directory), key=lambda entry: entry.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found = _images_beneath(directory, entry.name)
            if found:
                classes[entry.name] = found
        elif _is_image_name(entry.name):
            top_files.append(entry.name)
    if not classes:
        return None, [(path, None) for path in top_files], 0
    entries = [(path, name) for name, paths in classes.items() for path in paths]
    return list(classes), entries, len(top_files)


def _is_image_name(name):
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _images_beneath(directory, subfolder):
    """Image files under `directory/subfolder`, recursively, relative to `directory`."""
    found = []
    for root, folders, names in os.walk(os.path.join(directory, subfolder)):
        folders[:] = [name for name in folders if not name.startswith(".")]
        relative = os.path.relpath(root, directory)
        found.extend(os.path.join(relative, name) for name in names if _is_image_name(name))
    return sorted(found)


def _decode_all(directory, class_names, entries, options, progress):
    images, labels, skipped = [], [], []
    with _own_pixel_limit():
        image_size = options["image_size"] or _first_image_size(
            directory, entries, options["max_pixels"]
        )
        for path, class_name in entries:
            try:
                with Image.open(os.path.join(directory, path)) as image:
                    images.append(_decode_image(image, image_size, options))
                labels.append(class_name)
            except (_Skipped, *_DECODE_ERRORS) as error:
                skipped.append((path, _reason(error, os.path.join(directory, path))))
            progress.update()
    shape = (0, image_size or 1, image_size or 1, options["channels"])
    images = np.stack(images) if images else np.zeros(shape, "uint8")
    if class_names is None:
        return FolderImages(images, None, None, skipped)
    # Classes whose files were all unreadable are dropped, keeping labels 0..N-1.
    found = set(labels)
    class_names = [name for name in class_names if name in found]
    index = {name: position for position, name in enumerate(class_names)}
    labels = np.array([index[name] for name in labels], "int32")
    return FolderImages(images, labels, class_names, skipped)


def _reason(error, full_path):
    """Why a file was skipped, in one line without its (already named) path."""
    lines = str(error).replace(f" {full_path!r}", "").strip().splitlines()
    if isinstance(error, _Skipped):
        return lines[0]
    return f"unreadable ({type(error).__name__}: {lines[0]})" if lines else "unreadable"


def _first_image_size(directory, entries, max_pixels):
    """The shorter side of the first image whose header reads and whose
    pixels are within `max_pixels`; `None` if there is none."""
    for path, _ in entries:
        try:
            with Image.open(os.path.join(directory, path)) as image:
                width, height = image.size
        except _DECODE_ERRORS:
            continue
        if width * height > max_pixels:
            continue
        if min(width, height) > LARGEST_DEFAULT_SIZE:
            raise ValueError(
                f"The first image, {path}, is {width}x{height}: pass image_size "
                "(--image-size on the command line), e.g. 64, to read the folder at that size."
            )
        return min(width, height)
    return None


@contextlib.contextmanager
def _own_pixel_limit():
    """Lifts Pillow's decompression-bomb check, which `max_pixels` replaces:
    it raises on files above twice its limit before they can be skipped."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _check_pixels(width, height, max_pixels):
    if width * height > max_pixels:
        raise _Skipped(
            f"{width}x{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (max_pixels, --max-pixels)"
        )


def _decode_image(image, image_size, options):
    """An opened PIL image as a uint8 array `(image_size, image_size, channels)`,
    read by the module's rules with `options` (those of `load_folder`).

    Raises:
        _Skipped: when the image has more than `max_pixels` pixels.
        OSError, ValueError, ...: when the file cannot be decoded.
    """
    channels, background, fit = options["channels"], options["background"], options["fit"]
    _check_pixels(*image.size, options["max_pixels"])
    target = _square_box(*image.size, fit)
    factor = _reduction(target, image_size)
    if factor > 1 and image.format == "JPEG":
        # Decodes at 1/2, 1/4 or 1/8 scale, still at least the size asked.
        image.draft(None, (image.width // factor, image.height // factor))
    bands = _png_bands(image, target[1], target[3]) if image.format == "PNG" else None
    if bands is None:
        ImageOps.exif_transpose(image, in_place=True)
        box = _square_box(*image.size, fit)
        reduced = _plain(image).reduce(_reduction(box, image_size), box=box)
    else:
        reduced = _reduce_bands(bands, target, factor)
    square = _fit(_flatten(reduced, channels, background), image_size, fit, background)
    return np.asarray(square).reshape(image_size, image_size, channels)


def _square_box(width, height, fit):
    """The part of a `width` x `height` image that is kept: `(left, top, right, bottom)`."""
    if fit == "pad":
        return (0, 0, width, height)
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def _reduction(box, image_size):
    """The integer box-averaging factor that keeps `box` at least
    `REDUCE_MARGIN` times `image_size` on its longer side."""
    longer = max(box[2] - box[0], box[3] - box[1])
    return max(longer // (REDUCE_MARGIN * image_size), 1)


def _plain(image):
    """`image` as "L", "LA", "RGB" or "RGBA", any transparency as alpha.

    Pillow's `reduce` averages these modes, premultiplying the alpha, so
    images can be reduced before their transparency is composited.
    """
    if image.mode.startswith("I"):
        # 16-bit greyscale: Pillow's conversion to "L" clips, so scale here.
        pixels = np.asarray(image, "float32") / 257.0
        return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype("uint8"))
    if "transparency" in image.info or image.mode in ("PA", "La", "RGBa"):
        return image.convert("RGBA")
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    return image.convert("L" if image.mode == "1" else "RGB")


def _flatten(image, channels, background):
    """A `_plain` image as "RGB" or "L", its alpha composited onto `background`."""
    if "A" in image.mode:
        canvas = Image.new("RGB", image.size, background)
        canvas.paste(image, mask=image.getchannel("A"))
        image = canvas
    return image.convert("L" if channels == 1 else "RGB")


def _fit(image, image_size, fit, background):
    """The final resize of a (reduced) image to the output square."""
    if fit == "crop":
        return image.resize((image_size, image_size), Image.Resampling.BILINEAR)
    scale = image_size / max(image.size)
    size = tuple(max(round(side * scale), 1) for side in image.size)
    colour = background if image.mode == "RGB" else _grey(background)
    canvas = Image.new(image.mode, (image_size, image_size), colour)
    canvas.paste(
        image.resize(size, Image.Resampling.BILINEAR),
        ((image_size - size[0]) // 2, (image_size - size[1]) // 2),
    )
    return canvas


def _grey(colour):
    """The "L" value Pillow converts an RGB colour to (ITU-R 601-2 luma)."""
    return Image.new("RGB", (1, 1), colour).convert("L").getpixel((0, 0))


def _png_bands(image, top, bottom):
    """An iterator of `(top row, band image)` over rows `top` to `bottom` of
    a PNG decoded band by band, or `None` when the PNG is small enough, or
    of a kind, to decode whole."""
    if image.width * image.height <= BAND_PIXELS or len(image.tile) != 1:
        return None
    with open(image.filename, "rb") as file:
        header = file.read(8 + 8 + 13)
    if header[:8] != _PNG_SIGNATURE or header[12:16] != b"IHDR":
        return None
    width, height, depth, colour_type, _, _, interlaced = struct.unpack(">IIBBBBB", header[16:])
    bits = depth * _PNG_SAMPLES.get(colour_type, 0)
    filter_bytes = (bits + 7) // 8
    if interlaced or filter_bytes not in _IDENTITY_MODES:
        return None
    return _decode_png_bands(image, bits, filter_bytes, top, bottom)


def _decode_png_bands(image, bits, filter_bytes, top, bottom):
    """Yields the `(top row, band image)` bands of a non-interlaced PNG
    that hold rows `top` to `bottom`.

    Each band's filtered rows are inflated from the file's IDAT chunks,
    then unfiltered by Pillow's PNG decoder, primed with the previous
    band's last row (stored unfiltered, so that the band's first row can
    refer to it), then unpacked as Pillow unpacks the whole file.
    """
    width = image.width
    row_bytes = (width * bits + 7) // 8
    rows = max(BAND_PIXELS // width, 1)
    identity = _IDENTITY_MODES[filter_bytes]
    rawmode = image.tile[0].args
    rawmode = rawmode[0] if isinstance(rawmode, tuple) else rawmode
    previous = bytes(row_bytes)
    row = 0
    for filtered in _inflated_rows(image.filename, row_bytes + 1, rows, bottom):
        count = len(filtered) // (row_bytes + 1)
        primed = _stored_deflate([b"\0", previous, filtered])
        unfiltered = Image.frombytes(
            identity, (row_bytes // filter_bytes, count + 1), primed, "zip", identity
        ).tobytes()
        previous = unfiltered[-row_bytes:]
        if row + count > top:
            band = Image.frombytes(
                image.mode, (width, count), unfiltered[row_bytes:], "raw", rawmode
            )
            if image.palette is not None and image.mode == "P":
                band.putpalette(image.palette)
            band.info.update(
                {key: image.info[key] for key in ("transparency",) if key in image.info}
            )
            yield row, band
        row += count
    if row < bottom:
        raise ValueError(f"the PNG data ends at row {row} of {image.height}")


def _stored_deflate(parts):
    """`parts` joined as a zlib stream of stored (uncompressed) blocks, for
    Pillow's PNG decoder, which stops at the last row and never reads the
    checksum."""
    data = memoryview(b"".join(parts))
    blocks = [b"\x78\x01"]
    for start in range(0, len(data), 0xFFFF):
        block = data[start : start + 0xFFFF]
        final = start + 0xFFFF >= len(data)
        blocks.append(struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF))
        blocks.append(block)
    return b"".join(blocks)


def _inflated_rows(path, row_bytes, rows, height):
    """Yields the first `height` filtered rows of a PNG, `rows` at a time,
    inflating no more of its IDAT data than that at once."""
    band_bytes = rows * row_bytes
    pieces, size = [], 0
    decompressor = zlib.decompressobj()
    remaining = height * row_bytes
    for data in _idat_chunks(path):
        while data and remaining:
            pieces.append(decompressor.decompress(data, min(band_bytes, remaining) - size))
            size += len(pieces[-1])
            data = decompressor.unconsumed_tail
            if size == min(band_bytes, remaining):
                remaining -= size
                yield b"".join(pieces)
                pieces, size = [], 0
        if not remaining:
            return
    if size >= row_bytes:
        yield b"".join(pieces)[: size // row_bytes * row_bytes]


def _idat_chunks(path):
    """The data of a PNG's IDAT chunks, in order, one chunk at a time."""
    with open(path, "rb") as file:
        file.seek(len(_PNG_SIGNATURE))
        while True:
            head = file.read(8)
            if len(head) < 8:
                return
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IDAT":
                yield file.read(length)
                file.seek(4, os.SEEK_CUR)
            elif kind == b"IEND":
                return
            else:
                file.seek(length + 4, os.SEEK_CUR)


def _reduce_bands(bands, box, factor):
    """The part `box` of an image given as bands, `_plain` and box-averaged
    by `factor`, holding no more than one band at full size at once."""
    left, top, right, bottom = box
    pieces, carry, mode = [], None, None
    for band_top, band in bands:
        first, last = max(top, band_top), min(bottom, band_top + band.height)
        if first >= last:
            continue
        rows = _plain(band.crop((left, first - band_top, right, last - band_top)))
        mode = rows.mode
        rows = np.asarray(rows)
        carry = rows if carry is None else np.concatenate([carry, rows])
        whole = len(carry) // factor * factor
        if whole:
            pieces.append(np.asarray(Image.fromarray(carry[:whole], mode).reduce(factor)))
            carry = carry[whole:]
    if carry is not None and len(carry):
        pieces.append(np.asarray(Image.fromarray(carry, mode).reduce(factor)))
    return Image.fromarray(np.concatenate(pieces), mode)


def _name_skipped(skipped):
    """Prints one stderr line for each skipped file, up to `SKIPPED_FILES_SHOWN`."""
    for path, reason in skipped[:SKIPPED_FILES_SHOWN]:
        print(f"Skipped {path}: {reason}", file=sys.stderr, flush=True)


def _skipped_summary(directory, skipped, total):
    over = sum("over the limit" in reason for _, reason in skipped)
    unshown = len(skipped) - SKIPPED_FILES_SHOWN
    more = f"; {unshown} not named above" if unshown > 0 else ""
    return (
        f"Skipped {len(skipped)} of {total} image files in {directory!r}: "
        f"{len(skipped) - over} unreadable, {over} over the pixel limit{more}."
    )


def _summary(directory, folder, ignored):
    source = f"from the cache {folder.cache_path}" if folder.from_cache else "decoded"
    text = f"{len(folder.images)} images of {directory!r} ({source})"
    if folder.class_names is None:
        text += ", no class subfolders: unlabelled"
    else:
        counts = np.bincount(folder.labels, minlength=len(folder.class_names))
        listed = ", ".join(f"{name} {count}" for name, count in zip(folder.class_names, counts))
        text += f", {len(folder.class_names)} classes: {listed}"
    if ignored:
        text += f"; {ignored} images directly in the folder ignored (not in a class subfolder)"
    return text


def _cache_path(directory, entries, options):
    """The cache file of a folder's images read with `options`.

    Named `<folder>-<folder and options hash>-<files hash>.npz`: a changed
    folder gets a new name, and writing it removes the stale ones.
    """
    directory = os.path.abspath(directory)
    setting = json.dumps([CACHE_VERSION, directory, options], sort_keys=True)
    listing = []
    for path, class_name in entries:
        stat = os.stat(os.path.join(directory, path))
        listing.append([path, class_name, stat.st_size, stat.st_mtime_ns])
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(directory)) or "folder"
    name = f"{slug[:40]}-{_digest(setting)}-{_digest(json.dumps(listing))}.npz"
    return os.path.join(files.default_cache_dir(), CACHE_FOLDER, name)


def _digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_cache(path):
    """The `FolderImages` cached at `path`, or `None` if there is none or it
    is unreadable (then named on stderr, and rebuilt)."""
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as cached:
            images = cached["images"]
            labels = cached["labels"] if cached["labelled"] else None
            class_names = (
                [str(name) for name in cached["class_names"]] if labels is not None else None
            )
            skipped = [tuple(str(part) for part in pair) for pair in cached["skipped"]]
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(f"images of shape {images.shape} and dtype {images.dtype}")
        if labels is not None and labels.shape != (len(images),):
            raise ValueError(f"{labels.shape} labels for {len(images)} images")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        print(f"Rebuilding the unreadable cache {path}: {error}", file=sys.stderr, flush=True)
        return None
    return FolderImages(images, labels, class_names, skipped, path, from_cache=True)


def _write_cache(folder):
    """Writes the cache of `folder` and removes the stale caches of its
    folder and options; a failed write is reported and otherwise ignored."""
    path = folder.cache_path
    stale_prefix = os.path.basename(path).rsplit("-", 1)[0] + "-"
    labelled = folder.labels is not None
    try:
        with files.atomic_path(path) as temporary:
            np.savez(
                temporary,
                images=folder.images,
                labelled=labelled,
                labels=folder.labels if labelled else np.zeros(0, "int32"),
                class_names=np.array(folder.class_names or [], str),
                skipped=np.array(folder.skipped, str).reshape(-1, 2),
            )
        for entry in os.scandir(os.path.dirname(path)):
            if entry.name.startswith(stale_prefix) and entry.path != path:
                os.remove(entry.path)
    except OSError as error:
        print(f"Could not write the cache {path}: {error}", file=sys.stderr, flush=True)
