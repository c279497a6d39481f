#!/bin/bash
# Wait for the 128 px emoji training to end, then the run's evaluation (run.sh's own
# lines, alone), then CI alone on a clean clone of main.
source /work/venv/bin/activate
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
while pgrep -f "keras_simple_diffusion train --dataset emoji --image-size 128" > /dev/null; do sleep 10; done
stamp "training ended"
(
export PYTHONPATH=/work/frozen/s44 KERAS_BACKEND=tensorflow
cd /work/r44/emoji128_s0
mkdir -p g1
stamp "evaluate guidance 1"
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 1 --json g1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
stamp "prompt grid"
python -m benchmarks.prompt_grid --checkpoint runs/latest --guidance 3 --out prompt_grid_g3.png 2>&1 | grep -v "cuda\|absl\|I0000\|WARNING\|rebuild"
)
rm -rf /work/ci44 && git clone -q /work/main /work/ci44
stamp "ci start ($(git -C /work/ci44 rev-parse --short HEAD))"
cd /work/ci44
start=$(date +%s)
PYTEST_ADDOPTS=--durations=25 bash .ci/run > /work/r44/ci.log 2>&1
echo "== ci rc=$? seconds=$(( $(date +%s) - start )) end $(date -u +%H:%M:%S)"
stamp done
