#!/bin/bash
# The default emoji run, training seed 1, from the frozen clone /work/frozen/s43e.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s43e KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r43/emoji64_s1
stamp "train emoji seed 1 ($(git -C /work/frozen/s43e rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset emoji --seed 1 > train.log 2> train.err
mkdir -p g1
stamp "evaluate guidance 1"
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 1 --json g1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
stamp done
