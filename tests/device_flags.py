"""XLA_FLAGS for a process that a test starts with its own number of CPU
devices (`from device_flags import xla_flags`; tests/ is on the path)."""

import os


def xla_flags(device_count):
    """`device_count` host CPU devices, then the suite's own XLA_FLAGS
    (scripts/test.sh: one thread of math, no LLVM optimisation), which the
    started process would otherwise lose."""
    suite_flags = os.environ.get("XLA_FLAGS", "")
    return f"--xla_force_host_platform_device_count={device_count} {suite_flags}".strip()
