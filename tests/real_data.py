"""The real data sets' files in tests: found, or a skip only on a machine
that cannot install them (`.ci/run` installs them with apt-get).

Tests import it as `from real_data import require` (tests/ is on the path,
as for `layer_test_case`)."""

import shutil

import pytest


def require(find, what):
    """`find()`'s path; where it raises `FileNotFoundError`, a failure on a
    machine with apt-get and a skip elsewhere."""
    try:
        return find()
    except FileNotFoundError as error:
        if shutil.which("apt-get"):
            pytest.fail(f"{error} (.ci/run installs {what})")
        pytest.skip(f"no apt-get to install {what}: {error}")
