#!/bin/bash
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/d3 KERAS_BACKEND=tensorflow
for s in "dpmpp-2m-sde 64 time" "dpmpp-2m-sde 32 logsnr"; do set -- $s
python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 0 --sampler $1 --steps $2 --spacing $3 --json eval_guidance0_${1}_${2}_${3}.json 2>&1 | grep -E "accuracy  |FD ratio"
done; echo "== done $(date -u +%H:%M:%S)"
