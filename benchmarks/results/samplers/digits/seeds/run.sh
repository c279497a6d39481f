#!/bin/bash
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s30 KERAS_BACKEND=tensorflow
for seed in 1 2; do
  for s in "ancestral 128" "dpmpp-2m-sde 32"; do
    set -- $s
    echo "== seed $seed $1 $2 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    python -m keras_simple_diffusion evaluate --checkpoint /work/druns/runs/latest --num-samples 500 --guidance 0 --seed $seed --sampler $1 --steps $2 --json /work/sres/seeds/digits_${1}_${2}_seed${seed}.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
  done
done
echo "== done $(date -u +%H:%M:%S)"
