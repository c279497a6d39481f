#!/bin/bash
# The default emoji run with the interpolated schedule (16 at pure noise to
# 64, the image's size), TensorFlow training the preset without XLA as the
# default does; alone, from the frozen clone /work/frozen/s56. Run in the
# seed's own folder: run.sh SEED.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s56 KERAS_BACKEND=tensorflow
SEED=$1
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
stamp "train emoji interpolated seed $SEED ($(git -C /work/frozen/s56 rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset emoji --noise-d 16 --noise-d-high 64 --seed $SEED > train.log 2> train.err
stamp "evaluate"
mkdir -p g1
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --json g1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
stamp done
