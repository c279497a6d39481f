#!/usr/bin/env bash
# Runs the test suite once per Keras backend; fails if any backend fails.
#
# The backends run side by side (PARALLEL=0 runs them in turn): most of a
# test's time is single-threaded tracing and Python, so two cores serve three
# suites better than one at a time. Each suite keeps to TEST_THREADS (default
# 1) threads of math: the tests' models are tiny, and three suites of
# two-thread pools on two cores spend their time switching (the torch suite
# takes half as long on one thread). The JAX suite has the most work (its
# eager calls compile op by op), so it runs at normal priority and the other
# two at `nice` 10: it gets a core of its own while they share the other.
# Each backend's output is shown whole when it ends. Tests marked `slow` run
# on SLOW_BACKENDS only (default torch, the fastest here; empty: every
# backend; see tests/conftest.py). TensorFlow's XLA compiles take most of
# its suite's time and the tests' steps are few, so KSD_TF_XLA defaults to 0
# here: the tests of the XLA path (tests/core/test_tensorflow_xla.py, the
# CLI's tiny run) set it themselves. XLA compiles without LLVM's
# optimisation (`--xla_backend_optimization_level=0`): the tests' programs
# run a few steps each, so compiling them is much of the JAX suite's time,
# and unoptimised code gives the same results to the tests' tolerances;
# the processes that tests start keep these flags (tests/device_flags.py).
# Extra arguments go to pytest.
set -uo pipefail
export SLOW_BACKENDS=${SLOW_BACKENDS-torch}
export KSD_TF_XLA=${KSD_TF_XLA-0}
threads=${TEST_THREADS:-1}
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
export TF_NUM_INTRAOP_THREADS=$threads TF_NUM_INTEROP_THREADS=$threads
export XLA_FLAGS="${XLA_FLAGS:-} --xla_cpu_multi_thread_eigen=false --xla_backend_optimization_level=0"
backends=${BACKENDS:-jax tensorflow torch}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

run_backend() {
    local backend=$1 start
    start=$(date +%s)
    local niceness=10
    [ "$backend" = "${PRIORITY_BACKEND:-jax}" ] && niceness=0
    KERAS_BACKEND=$backend nice -n "$niceness" python -m pytest -q -p no:cacheprovider "${@:2}" \
        > "$logs/$backend.log" 2>&1
    local status=$?
    echo "=== $backend: $(( $(date +%s) - start )) s, exit $status ===" >> "$logs/$backend.log"
    return $status
}

status=0
if [ "${PARALLEL:-1}" = "1" ]; then
    pids=()
    for backend in $backends; do
        run_backend "$backend" "$@" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || status=1
    done
    for backend in $backends; do
        echo "=== KERAS_BACKEND=$backend ==="
        cat "$logs/$backend.log"
    done
else
    for backend in $backends; do
        echo "=== KERAS_BACKEND=$backend ==="
        run_backend "$backend" "$@" || status=1
        cat "$logs/$backend.log"
    done
fi
exit $status
