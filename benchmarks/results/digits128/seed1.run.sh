#!/bin/bash
# Background measurements of this stop, run from the frozen clone /work/frozen/s37 (85249b2).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s37 KERAS_BACKEND=tensorflow
ksd() { python -m keras_simple_diffusion "$@" 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"; }
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }

cd /work/r37/d128s1
stamp "train 128 px seed 1"
/usr/bin/time -v python -m keras_simple_diffusion train --image-size 128 --seed 1 > train.log 2> train.err
for s in "ancestral 128 time 0" "dpmpp-2m-sde 32 time 0" "dpmpp-2m-sde 32 logsnr 0" "dpmpp-2m-sde 32 logsnr 1" "dpmpp-2m-sde 32 time 1"; do set -- $s
  stamp "evaluate $s"
  ksd evaluate --checkpoint runs/latest --num-samples 500 --guidance $4 --sampler $1 --steps $2 --spacing $3 --json eval_g${4}_${1}_${2}_${3}.json | grep -E "accuracy  |FD ratio"
done
