#!/usr/bin/env bash
# The prepared GPU run (H100 / H200), for the device tool: installs nothing
# from the network. The GPU image has python3 with jax (CUDA), torch (CUDA),
# numpy, h5py, rich, ml-dtypes, absl-py, pillow, scikit-learn, matplotlib,
# but no keras, namex or optree, and no TensorFlow: those come as wheels in
# .whl/ (made here by benchmarks/gpu_wheels.sh, carried with carry=[".whl"]).
# TensorFlow's GPU wheel is far over the 64 MiB a call may carry, so the TF
# row reports it missing.
#
#   device run: command="bash benchmarks/gpu.sh", carry=[".whl"], timeout_s=540
#
# Output: $OUT/gpu_<card>.{json,md} (or benchmarks/results/ without $OUT).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || { echo "wheel install failed"; exit 1; }
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    echo "no .whl/: assuming keras is installed" >&2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
KERAS_BACKEND=jax python3 -c "import keras; print('keras', keras.__version__)" || { echo "keras missing: carry .whl"; exit 1; }
out="${OUT:-benchmarks/results}"
mkdir -p "$out"
timeout 500 python3 benchmarks/gpu.py --out "$out" "$@" 2>&1 | tee "$out/gpu_log.txt"
