"""Colour emoji from the Noto Color Emoji font: real images at 128 px.

Each single-code-point emoji of the font is drawn by Pillow from the font's
136 x 128 colour bitmaps, composited on white, centred on a square and
resized to 128 px with antialiasing. Its caption is its Unicode name
("grinning face with smiling eyes"); its label, where the Unicode emoji
data (`emoji-test.txt`) is on the machine, is its Unicode group ("Smileys &
Emotion", "Food & Drink", ...). The drawn set is cached as an `.npz` in the
package's cache folder, keyed by the font file and the drawing version; a
cache that cannot be read is drawn again.
"""

import hashlib
import os
import unicodedata
import warnings
import zipfile
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from keras_simple_diffusion import files

FONT_FILE = "NotoColorEmoji.ttf"
FONT_VARIABLE = "KSD_EMOJI_FONT"
EMOJI_TEST_VARIABLE = "KSD_EMOJI_TEST"
# Where Linux distributions and users install the font.
FONT_DIRS = (
    "/usr/share/fonts/truetype/noto",  # Debian, Ubuntu
    "/usr/share/fonts/noto",  # Arch
    "/usr/share/fonts/google-noto-emoji",  # Fedora
    "/usr/share/fonts/noto-emoji",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "~/Library/Fonts",  # macOS, user-installed
)
# Unicode's list of emoji with their groups: Debian's `unicode-data`, or a
# copy from https://unicode.org/Public/emoji/latest/emoji-test.txt.
EMOJI_TEST_PATHS = (
    "/usr/share/unicode/emoji/emoji-test.txt",
    "/usr/share/unicode-data/emoji/emoji-test.txt",
    "/usr/share/unicode/emoji-test.txt",
)
INSTALL_FONT = (
    "install it with `apt-get install fonts-noto-color-emoji` (Debian/Ubuntu), "
    "`dnf install google-noto-emoji-color-fonts` (Fedora), `pacman -S noto-fonts-emoji` "
    "(Arch) or from https://github.com/googlefonts/noto-emoji, or pass --data-dir / "
    f"${FONT_VARIABLE} naming the file"
)
INSTALL_GROUPS = (
    "install Unicode's emoji-test.txt with `apt-get install unicode-data` (Debian/Ubuntu), "
    f"or point ${EMOJI_TEST_VARIABLE} at a copy of "
    "https://unicode.org/Public/emoji/latest/emoji-test.txt"
)
IMAGE_SIDE = 128
# The size of the font's bitmap strike: a CBDT colour font draws only here.
FONT_SIZE = 109
# Bumped when the drawing changes, so that old caches are drawn again.
DRAWING_VERSION = 1
# Emoji that are only parts of sequences: skin tones, hair, regional letters.
EXCLUDED_GROUPS = ("Component",)
_COLOUR_TABLES = ("CBDT", "sbix", "COLR")


def find_font(data_dir=None):
    """The path of the colour emoji font: `data_dir` (the file, or a folder
    holding `NotoColorEmoji.ttf`), else `$KSD_EMOJI_FONT`, else the
    standard font folders. A one-line `FileNotFoundError` says how to get it."""
    if data_dir is not None:
        candidates = [data_dir]
    else:
        candidates = [os.environ.get(FONT_VARIABLE), *FONT_DIRS]
    searched = []
    for candidate in filter(None, candidates):
        candidate = os.path.expanduser(candidate)
        path = os.path.join(candidate, FONT_FILE) if os.path.isdir(candidate) else candidate
        if os.path.isfile(path):
            return path
        searched.append(candidate)
    raise FileNotFoundError(f"No {FONT_FILE} in {', '.join(searched)}: {INSTALL_FONT}.")


def find_emoji_test():
    """The path of Unicode's `emoji-test.txt`, or None."""
    for path in (os.environ.get(EMOJI_TEST_VARIABLE), *EMOJI_TEST_PATHS):
        if path and os.path.isfile(path):
            return path
    return None


def read_emoji_test(path):
    """`{code point: (name, group)}` of the fully-qualified single-code-point
    emoji of an `emoji-test.txt` (a trailing U+FE0F selector ignored)."""
    emoji, group = {}, None
    with open(path, encoding="utf-8") as file:
        for line in file:
            if line.startswith("# group:"):
                group = line.split(":", 1)[1].strip()
                continue
            if line.startswith("#") or ";" not in line:
                continue
            codes, rest = line.split(";", 1)
            status, _, comment = rest.partition("#")
            points = [int(code, 16) for code in codes.split() if code != "FE0F"]
            if status.strip() != "fully-qualified" or len(points) != 1:
                continue
            # The comment is "<emoji> E<version> <name>".
            name = comment.strip().split(" ", 2)[-1]
            emoji[points[0]] = (name, group)
    return emoji


def _font_code_points(path):
    """The code points the font maps, and whether it has colour glyphs."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:
        raise ImportError(
            "Reading the emoji font needs fontTools: `pip install fonttools`."
        ) from None
    try:
        with TTFont(path, lazy=True) as font:
            has_colour = any(table in font for table in _COLOUR_TABLES)
            return set(font.getBestCmap() or {}), has_colour
    except Exception as error:  # fontTools raises many kinds on a bad file
        raise ValueError(f"{path} is not a readable font file ({error}).") from None


def emoji_catalogue(font_path, emoji_test=None):
    """The emoji to draw: sorted `(code point, caption, group or None)`.

    With `emoji_test` (a path), the fully-qualified single-code-point emoji
    that the font has, named and grouped by Unicode. Without it, Python
    cannot tell emoji from other characters, so every code point of the
    font from U+2000 up with a Unicode name is taken, ungrouped: a close
    superset, named in capitals by `unicodedata`, lower-cased here.
    """
    code_points, has_colour = _font_code_points(font_path)
    if not has_colour:
        raise ValueError(
            f"{font_path} has no colour glyphs (none of the tables "
            f"{', '.join(_COLOUR_TABLES)}): name a colour emoji font such as {FONT_FILE}."
        )
    if emoji_test is not None:
        known = read_emoji_test(emoji_test)
        return sorted(
            (point, name, group)
            for point, (name, group) in known.items()
            if point in code_points and group not in EXCLUDED_GROUPS
        )
    catalogue = []
    for point in sorted(code_points):
        name = unicodedata.name(chr(point), "")
        if point < 0x2000 or not name or name.startswith(("REGIONAL INDICATOR", "EMOJI MODIFIER")):
            continue
        catalogue.append((point, name.lower(), None))
    return catalogue


def draw_emoji(font, code_point, side=IMAGE_SIDE):
    """One emoji as uint8 RGB `(side, side, 3)`: drawn in RGBA, cropped to
    its drawn pixels, centred on a square, composited on white, resized
    with antialiasing."""
    canvas = Image.new("RGBA", (160, 160), (255, 255, 255, 0))
    ImageDraw.Draw(canvas).text((8, 8), chr(code_point), font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        return None
    glyph = canvas.crop(box)
    square_side = max(glyph.size)
    square = Image.new("RGBA", (square_side, square_side), (255, 255, 255, 0))
    square.paste(glyph, ((square_side - glyph.width) // 2, (square_side - glyph.height) // 2))
    white = Image.new("RGBA", square.size, (255, 255, 255, 255))
    image = Image.alpha_composite(white, square).convert("RGB")
    return np.asarray(image.resize((side, side), Image.Resampling.LANCZOS))


def _cache_path(font_path, emoji_test):
    stat = os.stat(font_path)
    key = f"{os.path.abspath(font_path)}:{stat.st_size}:{stat.st_mtime_ns}:{emoji_test}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return os.path.join(files.default_cache_dir(), "emoji", f"v{DRAWING_VERSION}-{digest}.npz")


def _read_cache(path):
    """The cached arrays, or None when the file is missing or unreadable."""
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path) as cached:
            arrays = {
                name: cached[name] for name in ("images", "code_points", "captions", "groups")
            }
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        warnings.warn(
            f"The emoji cache {path} is unreadable; drawing the emoji again.", stacklevel=3
        )
        return None
    images = arrays["images"]
    count = len(arrays["code_points"])
    if images.shape != (count, IMAGE_SIDE, IMAGE_SIDE, 3) or len(arrays["captions"]) != count:
        warnings.warn(f"The emoji cache {path} is inconsistent; drawing again.", stacklevel=3)
        return None
    return arrays


def load_emoji(data_dir=None):
    """All the emoji of the font, at 128 px, drawn once and then cached.

    Args:
        data_dir: the font file or its folder, or None to search
            `$KSD_EMOJI_FONT` and the standard font folders.

    Returns:
        A dict of `images` (uint8 `(N, 128, 128, 3)` on white),
        `code_points` (int), `captions` (str, the Unicode names) and
        `groups` (str, the Unicode groups; empty strings without
        `emoji-test.txt`).

    Example:
    >>> emoji = load_emoji()  # doctest: +SKIP
    >>> emoji["images"].shape, emoji["captions"][0]  # doctest: +SKIP
    ((1386, 128, 128, 3), 'hundred points')
    """
    font_path = find_font(data_dir)
    emoji_test = find_emoji_test()
    cache = _cache_path(font_path, emoji_test)
    arrays = _read_cache(cache)
    if arrays is not None:
        return arrays
    catalogue = emoji_catalogue(font_path, emoji_test)
    try:
        font = ImageFont.truetype(font_path, FONT_SIZE)
    except OSError as error:
        raise ValueError(f"Pillow cannot draw {font_path} at {FONT_SIZE} px ({error}).") from None
    drawn = [(entry, draw_emoji(font, entry[0])) for entry in catalogue]
    drawn = [(entry, image) for entry, image in drawn if image is not None]
    if not drawn:
        raise ValueError(f"{font_path} drew no emoji: is it a colour emoji font?")
    arrays = dict(
        images=np.stack([image for _, image in drawn]),
        code_points=np.array([point for (point, _, _), _ in drawn]),
        captions=np.array([caption for (_, caption, _), _ in drawn]),
        groups=np.array([group or "" for (_, _, group), _ in drawn]),
    )
    with files.atomic_path(cache) as temporary:
        with open(temporary, "wb") as file:
            np.savez_compressed(file, **arrays)
    return arrays


# Unicode's emoji groups, in its order (`emoji-test.txt`), but "Component".
GROUPS = (
    "Smileys & Emotion",
    "People & Body",
    "Animals & Nature",
    "Food & Drink",
    "Travel & Places",
    "Activities",
    "Objects",
    "Symbols",
    "Flags",
)


# What an emoji run is conditioned on: its caption, its group, or its identity.
CONDITIONINGS = ("text", "group", "name")


def group_slug(group):
    """A group's name in a source spec: "Food & Drink" -> "food-drink"."""
    return "-".join(group.lower().replace("&", " ").split())


def parse_emoji_spec(spec):
    """`(conditioning, groups)` of an emoji source spec ("emoji",
    "emoji:group:food-drink"): after "emoji:" come "text" (captions, the
    default), "group" (the Unicode group as a class label) or "name" (each
    emoji its own class, named by its caption), and group slugs that keep
    those groups only."""
    conditioning, groups = "text", []
    slugs = {group_slug(group): group for group in GROUPS}
    for option in filter(None, spec.split(":")[1:]):
        if option in CONDITIONINGS:
            conditioning = option
        elif option in slugs:
            groups.append(slugs[option])
        else:
            raise ValueError(
                f"Unknown emoji option or group {option!r}; expected "
                f"{', '.join(map(repr, CONDITIONINGS))} or one of {', '.join(slugs)}."
            )
    return conditioning, groups


def select_groups(drawn, groups):
    """The drawn emoji of the given groups only (all when `groups` is empty)."""
    if not groups:
        return drawn
    check_groups_known(drawn["groups"])
    keep = np.isin(drawn["groups"], groups)
    return {name: array[keep] for name, array in drawn.items()}


def check_groups_known(groups):
    if not len(groups) or not all(groups):
        raise ValueError(f"Emoji groups need Unicode's emoji data: {INSTALL_GROUPS}.")


def group_labels(groups):
    """`(labels, class_names)` of the Unicode groups present, in Unicode's
    order; a one-line error when the groups are unknown."""
    check_groups_known(groups)
    present = set(groups.tolist())
    class_names = [group for group in GROUPS if group in present]
    class_names += sorted(present - set(GROUPS))  # groups of a newer Unicode
    index = {name: label for label, name in enumerate(class_names)}
    return np.array([index[group] for group in groups.tolist()], dtype="int32"), class_names


def name_labels(captions):
    """`(labels, class_names)` with each emoji its own class, named by its
    caption: a test of whether the image side alone can learn every emoji."""
    return np.arange(len(captions), dtype="int32"), [str(caption) for caption in captions]
