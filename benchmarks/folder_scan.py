"""Reading a folder of thousands of mixed image files, first run and cached.

Writes a folder of generated PNGs (clip-art-like shapes on transparent or
opaque backgrounds; RGBA, RGB, LA, L and palette files with and without a
transparent entry, from 48 px to 1,536 px on a side, in nested class
folders), then times `load_folder` twice on it: the first run decodes and
caches, the second reads the cache.

    python -m benchmarks.folder_scan                       # 8,000 files
    python -m benchmarks.folder_scan --files 200 --json /tmp/scan.json

`--huge N` adds N files of 10,000 x 16,000 px and one over Pillow's pixel
limit (a few kilobytes each: flat colours compress to almost nothing),
plus a corrupt and a truncated file, as a real folder has. The JSON goes to
benchmarks/results/folder_scan.json by default.
"""

import argparse
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("animals/cats", "animals/dogs", "icons", "logos", "plants/trees/oak")
MODES = ("RGBA", "RGB", "LA", "L", "P", "P-transparent")
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
DEFAULT_JSON = os.path.join(RESULTS, "folder_scan.json")
LARGE_PNG_JSON = os.path.join(RESULTS, "folder_large_png.json")
# Rows of a large flat PNG compressed at once; identical blocks compress to
# identical bytes after a full flush, so the file is written in seconds.
_BLOCK_ROWS = 64


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def write_large_png(path, width, height, row_pixels):
    """Writes an 8-bit RGBA PNG whose every row is `row_pixels` (uint8,
    `(width, 4)`), without holding the image in memory: a 10,000 x 16,000
    file takes a second or two and a few kilobytes of disk."""
    row = b"\0" + np.ascontiguousarray(row_pixels, "uint8").tobytes()
    rows = min(_BLOCK_ROWS, height)
    block = row * rows
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = zlib.adler32(block)
    whole, rest = divmod(height, rows)
    for _ in range(whole - 1):
        checksum = zlib.adler32(block, checksum)
    tail = compressor.compress(row * rest) + compressor.flush() if rest else compressor.flush()
    if rest:
        checksum = zlib.adler32(row * rest, checksum)
    # flush() ends the stream with zlib's checksum of what this compressor
    # saw, not of the repeated blocks: it is replaced by the true one.
    stream = first + repeated * (whole - 1) + tail[:-4] + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    with open(path, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header))
        for start in range(0, len(stream), 1 << 20):
            file.write(_chunk(b"IDAT", stream[start : start + (1 << 20)]))
        file.write(_chunk(b"IEND", b""))


def half_transparent_row(width, colour=(200, 30, 30)):
    """A row whose left half is transparent and right half opaque `colour`."""
    row = np.zeros((width, 4), "uint8")
    row[width // 2 :] = (*colour, 255)
    return row


_PEAK_MEMORY_SCRIPT = """
import json, sys, time
from keras_simple_diffusion.data.folders import load_folder

def kib(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key))

results = {}
for fit in sys.argv[3:]:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets the peak resident size (VmHWM) to the current one
    before = kib("VmRSS")
    start = time.perf_counter()
    folder = load_folder(sys.argv[1], int(sys.argv[2]), fit=fit, cache=False, quiet=True)
    results[fit] = dict(
        seconds=time.perf_counter() - start,
        extra_mib=(kib("VmHWM") - before) / 1024,
        image=folder.images[0].tolist(),
    )
    del folder
print(json.dumps(results))
"""


def measure_folder_read(folder, fits=("crop", "pad"), image_size=64):
    """Reads `folder` with each of `fits` in a new Python process (Linux
    only); returns, by fit, its `seconds`, its peak resident memory above
    where the read started (`extra_mib`) and the first `image`."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    measured = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY_SCRIPT, str(folder), str(image_size), *fits],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": root},
    )
    return json.loads(measured.stdout.splitlines()[-1])


def _measure_large_png():
    """Times one 10,000 x 16,000 RGBA PNG read to 64 px, crop and pad."""
    folder = tempfile.mkdtemp(prefix="large_png_")
    write_large_png(os.path.join(folder, "huge.png"), 10_000, 16_000, half_transparent_row(10_000))
    result = dict(
        file="10,000 x 16,000 RGBA PNG (610 MiB of pixels), left half transparent",
        image_size=64,
    )
    for fit, measured in measure_folder_read(folder).items():
        result[fit] = dict(
            seconds=round(measured["seconds"], 2), peak_extra_mib=round(measured["extra_mib"], 1)
        )
    shutil.rmtree(folder)
    return result


def _drawing(rng, size, mode):
    """A shape in a random colour on a transparent (or white) background."""
    width, height = size
    image = Image.new("RGBA", size, (0, 0, 0, 0) if mode != "RGB" else (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    colour = tuple(int(value) for value in rng.integers(0, 256, 3)) + (255,)
    box = [
        int(width * rng.uniform(0.05, 0.4)),
        int(height * rng.uniform(0.05, 0.4)),
        int(width * rng.uniform(0.6, 0.95)),
        int(height * rng.uniform(0.6, 0.95)),
    ]
    shape = rng.integers(0, 3)
    if shape == 0:
        draw.ellipse(box, fill=colour, outline=(0, 0, 0, 255), width=max(width // 64, 1))
    elif shape == 1:
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(box[0], box[3]), ((box[0] + box[2]) // 2, box[1]), (box[2], box[3])], colour)
    if mode in ("RGBA", "RGB"):
        return image.convert(mode)
    if mode in ("LA", "L"):
        return image.convert(mode)
    palette = image.convert("RGB").quantize(15)
    if mode == "P-transparent":
        # Entry 15 (past the at most 15 colours used) is the transparent one;
        # the palette is padded to hold it, or PNG writers drop it.
        pixels = np.asarray(palette).copy()
        pixels[np.asarray(image)[..., 3] == 0] = 15
        colours = palette.getpalette()[: 15 * 3]
        palette = Image.fromarray(pixels, "P")
        palette.putpalette(colours + [0] * (48 - len(colours)))
        palette.info["transparency"] = 15
    return palette


def make_folder(root, count, huge=0, seed=0):
    """Writes `count` generated PNGs under `root` (plus `huge` large files
    and three bad ones when `huge`); returns the number of files written."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        folder = os.path.join(root, CLASSES[index % len(CLASSES)])
        os.makedirs(folder, exist_ok=True)
        side = int(
            rng.choice(
                [48, 64, 96, 128, 256, 512, 1024, 1536], p=[0.1, 0.2] + [0.15] * 4 + [0.05] * 2
            )
        )
        size = (side, int(side * rng.uniform(0.6, 1.6)))
        mode = MODES[index % len(MODES)]
        image = _drawing(rng, size, mode)
        path = os.path.join(folder, f"{index:05d}.png")
        options = {key: image.info[key] for key in ("transparency",) if key in image.info}
        image.save(path, **options)
    written = count
    if huge:
        for index in range(huge):
            write_large_png(
                os.path.join(root, "icons", f"huge_{index}.png"),
                10_000,
                16_000,
                half_transparent_row(10_000),
            )
        # 231,424,000 pixels: over Pillow's limit, as the file.
        write_large_png(
            os.path.join(root, "logos", "too_large.png"),
            15_200,
            15_225,
            half_transparent_row(15_200),
        )
        with open(os.path.join(root, "logos", "corrupt.png"), "wb") as file:
            file.write(b"\x89PNG\r\n\x1a\nnot really")
        with open(os.path.join(root, CLASSES[0], "00000.png"), "rb") as file:
            data = file.read()
        with open(os.path.join(root, "icons", "truncated.png"), "wb") as file:
            file.write(data[: len(data) // 2])
        written += huge + 3
    return written


def _timed_load(root, image_size):
    from keras_simple_diffusion.data.folders import load_folder

    start = time.perf_counter()
    folder = load_folder(root, image_size, quiet=False)
    return time.perf_counter() - start, folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8000)
    parser.add_argument("--huge", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--folder", help="where to write the folder (default: a temporary one)")
    parser.add_argument(
        "--large-png",
        action="store_true",
        help=f"only time one 10,000 x 16,000 PNG and its peak memory (to {LARGE_PNG_JSON})",
    )
    parser.add_argument("--json", help=f"the result file (default {DEFAULT_JSON})")
    args = parser.parse_args(argv)
    if args.large_png:
        _write_result(_measure_large_png(), args.json or LARGE_PNG_JSON, argv)
        return
    root = args.folder or tempfile.mkdtemp(prefix="folder_scan_")
    cache = tempfile.mkdtemp(prefix="folder_scan_cache_")
    os.environ["KSD_CACHE_DIR"] = cache
    start = time.perf_counter()
    written = make_folder(root, args.files, args.huge)
    generate_seconds = time.perf_counter() - start
    first_seconds, folder = _timed_load(root, args.image_size)
    second_seconds, cached = _timed_load(root, args.image_size)
    assert cached.from_cache and np.array_equal(cached.images, folder.images)
    disk = sum(
        os.path.getsize(os.path.join(path, name))
        for path, _, names in os.walk(root)
        for name in names
    )
    result = dict(
        files=written,
        folder_megabytes=round(disk / 1e6, 1),
        images_read=len(folder.images),
        skipped=len(folder.skipped),
        classes=folder.class_names,
        image_size=args.image_size,
        generate_seconds=round(generate_seconds, 1),
        first_run_seconds=round(first_seconds, 1),
        cached_run_seconds=round(second_seconds, 2),
        cache_megabytes=round(os.path.getsize(folder.cache_path) / 1e6, 1),
    )
    _write_result(result, args.json or DEFAULT_JSON, argv)
    shutil.rmtree(cache)
    if not args.folder:
        shutil.rmtree(root)


def _write_result(result, path, argv):
    result["machine"] = dict(
        processor=platform.processor() or platform.machine(),
        cpus=os.cpu_count(),
        load_average_1min=round(os.getloadavg()[0], 2),
    )
    result["command"] = "python -m benchmarks.folder_scan " + " ".join(argv or sys.argv[1:])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as file:
        json.dump(result, file, indent=2)
        file.write("\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
