#!/usr/bin/env bash
# Runs the test suite once per Keras backend; fails if any backend fails.
set -uo pipefail
status=0
for backend in ${BACKENDS:-jax tensorflow torch}; do
    echo "=== KERAS_BACKEND=$backend ==="
    start=$(date +%s)
    KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider "$@" || status=1
    echo "=== $backend: $(( $(date +%s) - start )) s ==="
done
exit $status
