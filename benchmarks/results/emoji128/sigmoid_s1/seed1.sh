#!/bin/bash
# The sigmoid run (run.sh) scored again on sampling seed 1: how far the
# sampling seed alone moves the 128 px measures at 500 samples. Alone, from
# the frozen clone /work/frozen/s62 of 443f920.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s62 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r62/emoji128_sigmoid_s1
mkdir -p g1_seed1
stamp "evaluate guidance 1, sampling seed 1"
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 1 --seed 1 --json g1_seed1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
stamp done
