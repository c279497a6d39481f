#!/bin/bash
# The default fashion U-Net (4000 steps, seed 0; seed 1 was stopped to free the machine) sampled with 64 steps of the default sampler.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s46 KERAS_BACKEND=tensorflow
cd /work/r47/sampling
for seed in ${SEEDS:-0}; do
  run=$(ls -d /work/r46/fashion/unet4000/runs_s$seed/2*/ | head -1)
  for steps in ${STEPS:-64}; do
    /usr/bin/time -v simple-diffusion evaluate --checkpoint $run --steps $steps --json eval_s${seed}_steps$steps.json > eval_s${seed}_steps$steps.log 2>&1
    echo "== s$seed steps $steps $(date -u +%H:%M:%S)"
  done
done
