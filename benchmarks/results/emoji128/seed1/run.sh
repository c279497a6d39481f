#!/bin/bash
# The default emoji run at 128 px, training seed 1, without XLA (TensorFlow's
# default for the preset since dd22dbf); the second part of stop 55's chain,
# alone, from the frozen clone /work/frozen/s55 of 118a04c (the first part:
# ../../emoji64_words/seed2/samplers/).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s55 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r55/emoji128_s1
stamp "train emoji 128 px seed 1 ($(git -C /work/frozen/s55 rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset emoji --image-size 128 --seed 1 > train.log 2> train.err
mkdir -p g1
stamp "evaluate guidance 1"
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 1 --json g1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
stamp done
