#!/bin/bash
# The default Fashion-MNIST run, then 32 solver steps spaced in time and in logSNR against 128 ancestral steps (guidance 1, the CLI default).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/d1 KERAS_BACKEND=tensorflow
cd /work/fruns
echo "== train $(date -u +%H:%M:%S)"
python -m keras_simple_diffusion train --dataset fashion > train.log 2> train.err
for s in "dpmpp-2m-sde 32 logsnr" "dpmpp-2m-sde 32 time" "ancestral 128 time"; do set -- $s
echo "== $1 $2 $3 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --sampler $1 --steps $2 --spacing $3 --json fashion_${1}_${2}_${3}_seed0.json 2>&1 | grep -E "accuracy|FD ratio"
done; echo "== done $(date -u +%H:%M:%S)"
