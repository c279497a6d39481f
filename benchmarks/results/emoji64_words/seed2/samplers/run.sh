#!/bin/bash
# The first part of stop 55's chain (alone, from the frozen clone /work/frozen/s55 of
# 118a04c): the seed-2 checkpoint sampled with three other settings. The
# chain then trained the 128 px default run (../../../emoji128/seed1/).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s55 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
CKPT=/work/r54/emoji64_s2/runs/20261206-100556
cd /work/r55/emoji64_samplers
for setting in "ddim 32" "dpmpp-2m 32" "dpmpp-2m-sde 64"; do
  set -- $setting
  mkdir -p $1_$2
  stamp "evaluate seed-2 checkpoint, $1, $2 steps"
  /usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint $CKPT --num-samples 500 --sampler $1 --steps $2 --json $1_$2/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
done
