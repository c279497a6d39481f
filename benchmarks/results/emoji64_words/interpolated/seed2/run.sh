#!/bin/bash
# The default emoji run at 64 px as a user runs it, training seed 2 (a third
# seed of the interpolated default), then `evaluate` with its new default of
# 16 draws of the real sets on sampling seeds 0 and 1, and with one draw on
# seed 0 (the figures of before). Alone, from the frozen clone
# /work/frozen/s63 of ce98fa9.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s63 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r63/emoji64_s2
stamp "train emoji 64 px seed 2 ($(git -C /work/frozen/s63 rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset emoji --seed 2 > train.log 2> train.err
for run in "s0_draws16 --seed 0" "s1_draws16 --seed 1" "s0_draws1 --seed 0 --reference-draws 1"; do
  set -- $run
  name=$1; shift
  mkdir -p $name
  stamp "evaluate $name"
  /usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --json $name/evaluation.json "$@" 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
done
stamp done
