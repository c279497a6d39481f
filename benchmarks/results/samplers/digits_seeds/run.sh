#!/bin/bash
# Seeds 0-2 of 128 ancestral steps and DPM-Solver++(2M) SDE at 16 (time, logsnr) and 24 steps.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/d2 KERAS_BACKEND=tensorflow
for seed in 0 1 2; do
  for s in "ancestral 128 time" "dpmpp-2m-sde 16 time" "dpmpp-2m-sde 16 logsnr" "dpmpp-3m-sde 16 time" "dpmpp-3m-sde 16 logsnr" "dpmpp-2m-sde 24 time" "dpmpp-2m-sde 32 time"; do
    set -- $s
    out=/work/sres/s16/digits_${1}_${2}_${3}_seed${seed}.json
    [ -f $out ] && continue
    echo "== seed $seed $1 $2 $3 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    python -m keras_simple_diffusion evaluate --checkpoint /work/druns/runs/latest --num-samples 500 --guidance 0 --seed $seed --sampler $1 --steps $2 --spacing $3 --json $out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
  done
done
echo "== done $(date -u +%H:%M:%S)"
