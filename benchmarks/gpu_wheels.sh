#!/usr/bin/env bash
# Downloads (here, where PyPI is reachable) the wheels that benchmarks/gpu.sh
# needs on the GPU machine (Python 3.12, x86-64, no network) into .whl/,
# which git ignores through .git/info/exclude.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
keras_version=$(python -c "import keras; print(keras.__version__)")
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "keras==$keras_version" namex optree
ls -la .whl
