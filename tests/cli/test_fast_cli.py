"""`--help`, `train --help` and usage errors answer without importing Keras."""

import subprocess
import sys
import time

import pytest

# Runs in a fresh interpreter: each argv through `cli.main`, then whether
# Keras (or a backend) was imported.
PROBE = """
import sys, time
start = time.monotonic()
from keras_simple_diffusion import cli
for argv in ({argvs}):
    try:
        cli.main(argv)
    except SystemExit:
        pass
print(f"seconds={{time.monotonic() - start:.2f}}")
print("heavy=" + ",".join(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules))
"""


def _probe(argvs):
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argvs=", ".join(map(repr, argvs)) + ",")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return lines, result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["sample", "--help"],
        ["train", "--seed", "-1"],
        ["train", "--no-such-flag"],
        ["sample"],
    ],
)
def test_parsing_imports_no_backend(argv):
    lines, stderr = _probe([argv])
    assert lines["heavy"] == "", stderr
    print(f"{' '.join(argv)}: {lines['seconds']} s in-process")


def test_usage_error_imports_no_backend():
    _, stderr = _probe([["train", "--seed", "-1"]])
    assert "`--seed` must be at least 0" in stderr


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"]])
def test_module_help_is_fast(argv):
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "keras_simple_diffusion", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.monotonic() - start
    assert result.returncode == 0 and "usage: simple-diffusion" in result.stdout
    assert result.stderr == ""
    print(f"python -m keras_simple_diffusion {' '.join(argv)}: {seconds:.2f} s")
