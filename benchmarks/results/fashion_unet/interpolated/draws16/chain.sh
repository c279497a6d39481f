#!/bin/bash
# Fashion-MNIST default runs as a user runs them, training seeds 4 and 5 (new
# seeds of the interpolated default), each scored by `evaluate` with its
# defaults (1000 samples, 16 draws of the real sets) on sampling seeds 0 and 1,
# and with one draw on seed 0 (as seeds 0-3 were scored). Then the two kept
# 128 px emoji checkpoints scored with 16 draws on sampling seed 0. Alone,
# from the frozen clone /work/frozen/s64 of b4d062b.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s64 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
quiet() { grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"; }
for seed in 4 5; do
  dir=/work/r64/fashion_s$seed
  mkdir -p $dir && cd $dir
  stamp "train fashion seed $seed ($(git -C /work/frozen/s64 rev-parse --short HEAD))"
  /usr/bin/time -v python -m keras_simple_diffusion train --dataset fashion --seed $seed > train.log 2> train.err
  for run in "s0_draws16 --seed 0" "s1_draws16 --seed 1" "s0_draws1 --seed 0 --reference-draws 1"; do
    set -- $run
    name=$1; shift
    mkdir -p $name
    stamp "evaluate fashion seed $seed $name"
    /usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --json $name/evaluation.json "$@" 2>&1 | quiet
  done
done
for pair in "sigmoid_s1 /work/r62/emoji128_sigmoid_s1" "single_s1 /work/r59/emoji128_single_s1"; do
  set -- $pair
  mkdir -p /work/r64/emoji128_$1/g1_draws16 && cd /work/r64/emoji128_$1
  stamp "evaluate emoji 128 $1, 16 draws"
  /usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint $2/runs/latest --num-samples 500 --guidance 1 --json g1_draws16/evaluation.json 2>&1 | quiet
done
stamp done
