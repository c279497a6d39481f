#!/bin/bash
# The default emoji run as a user runs it, TensorFlow training the preset
# without XLA; alone, from the frozen clone /work/frozen/s54c.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s54c KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r54/emoji64_s2
stamp "train emoji seed 2 ($(git -C /work/frozen/s54c rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset emoji --seed 2 > train.log 2> train.err
stamp "evaluate"
mkdir -p g1
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --json g1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
stamp done
