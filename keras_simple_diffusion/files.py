"""Atomic file writes: a reader never sees a partial file.

Every file is written under a temporary name in its own folder, then moved
into place with `os.replace`. The temporary name starts with a dot and ends
with the final extension (Keras only saves to a path ending in `.keras`), so
no reader's pattern (`step_*.keras`, `*.json`) matches it and listings skip it.
A failed write removes the temporary file and leaves any earlier file intact.

`default_cache_dir` is where cached files (classifiers, decoded image
folders) live.
"""

import contextlib
import json
import os
import shutil

PARTIAL_PREFIX = ".partial-"


def is_partial(path):
    """Whether `path` names an unfinished write of `atomic_path`."""
    return os.path.basename(path).startswith(PARTIAL_PREFIX)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write; on success it replaces `path`.

    Example:
    >>> with atomic_path("runs/x/model.keras") as temporary:  # doctest: +SKIP
    ...     model.save(temporary)
    """
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f"{PARTIAL_PREFIX}{os.getpid()}-{name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.lexists(temporary):  # lexists: the temporary may be a symlink
            os.remove(temporary)


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())


def write_json(path, value):
    """Writes `value` as indented JSON to `path` atomically."""
    write_text(path, json.dumps(value, indent=2) + "\n")


def default_cache_dir():
    """`$KSD_CACHE_DIR`, else `~/.cache/keras_simple_diffusion`."""
    return os.environ.get(
        "KSD_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "keras_simple_diffusion")
    )


def copy_file(source, path):
    """Copies `source` to `path` atomically."""
    with atomic_path(path) as temporary:
        shutil.copyfile(source, temporary)


def remove_partial_files(folder):
    """Removes the unfinished writes a killed process left in `folder`.

    Call it only where no other process writes at the same time.
    """
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if is_partial(name):
                os.remove(os.path.join(folder, name))
