#!/bin/bash
# Step time of the default Fashion-MNIST run at batch 32, 64 and 128 (300 steps, no grids or checkpoints).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s50 KERAS_BACKEND=tensorflow
cd /work/r50/batch_trial
for b in 32 64 128; do
  echo "== batch $b start $(date -u +%H:%M:%S)"
  simple-diffusion train --dataset fashion --batch-size $b --steps 300 --seed 0 --sample-every 100000 --checkpoint-every 100000 --runs-dir runs_b$b > b$b.log 2>&1
  echo "== batch $b done $(date -u +%H:%M:%S) rc=$?"
done
