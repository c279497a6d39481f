#!/bin/bash
# Background measurements of this stop, run from the frozen clone /work/frozen/s37 (85249b2).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s37 KERAS_BACKEND=tensorflow
ksd() { python -m keras_simple_diffusion "$@" 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"; }
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
for seed in 0 1; do
  cd /work/r37/text_s$seed
  stamp "train shapes seed $seed"
  /usr/bin/time -v python -m keras_simple_diffusion train --dataset shapes --seed $seed > train.log 2> train.err
  for s in "dpmpp-2m-sde 32 logsnr" "dpmpp-2m-sde 32 time" "ancestral 64 time"; do set -- $s
    stamp "evaluate $s"
    ksd evaluate --checkpoint runs/latest --num-samples 256 --guidance 3 --sampler $1 --steps $2 --spacing $3 --json eval_g3_${1}_${2}_${3}.json | grep -E "adherence|FD ratio|match"
  done
done
stamp done
