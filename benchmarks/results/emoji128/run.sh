#!/bin/bash
# The default emoji run at 128 px, training seed 0, from the frozen clone /work/frozen/s44.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s44 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r44/emoji128_s0
stamp "train emoji 128 px seed 0 ($(git -C /work/frozen/s44 rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset emoji --image-size 128 --seed 0 > train.log 2> train.err
mkdir -p g1
stamp "evaluate guidance 1"
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 1 --json g1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
stamp done
