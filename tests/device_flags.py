"""XLA_FLAGS for a process that a test starts with its own number of CPU
devices (`from device_flags import xla_flags`; tests/ is on the path)."""

import os

DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count="


def xla_flags(device_count):
    """`device_count` host CPU devices, then the suite's own XLA_FLAGS
    (scripts/test.sh: one thread of math, no LLVM optimisation), which the
    started process would otherwise lose; a device count among those is
    dropped, so that the process's own is the only one."""
    suite_flags = os.environ.get("XLA_FLAGS", "").split()
    kept = [flag for flag in suite_flags if not flag.startswith(DEVICE_COUNT_FLAG)]
    return " ".join([f"{DEVICE_COUNT_FLAG}{device_count}", *kept])
