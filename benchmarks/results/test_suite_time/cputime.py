"""A pytest plugin: CPU seconds of each test (setup, call and teardown; the
process and its waited-for children), which two busy cores do not inflate
as they do wall time. Written to $CPUTIME_OUT, or to
$CPUTIME_OUT_DIR/<KERAS_BACKEND>.txt, one `seconds test` line a test, the
largest first.

    PYTHONPATH=.:benchmarks/results/test_suite_time CPUTIME_OUT_DIR=OUT \\
        bash scripts/test.sh -p cputime
"""

import os
import resource

import pytest

_seconds = {}


def _cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = _cpu_seconds()
    yield
    _seconds[item.nodeid] = _cpu_seconds() - start


def pytest_sessionfinish(session):
    path = os.environ.get("CPUTIME_OUT")
    if not path and os.environ.get("CPUTIME_OUT_DIR"):
        backend = os.environ.get("KERAS_BACKEND", "unknown")
        path = os.path.join(os.environ["CPUTIME_OUT_DIR"], f"{backend}.txt")
    if path:
        with open(path, "w") as file:
            for node, seconds in sorted(_seconds.items(), key=lambda row: -row[1]):
                file.write(f"{seconds:8.2f} {node}\n")
