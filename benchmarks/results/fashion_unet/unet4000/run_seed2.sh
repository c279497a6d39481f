#!/bin/bash
# Fashion-MNIST: the default run (unet-digits, 4000 steps), to fit 15 minutes
# of training at its 0.21 s a step; training seed 2 (a third seed for the spread), each scored with
# `evaluate`'s defaults (1000 samples, sampling seed 0).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s46 KERAS_BACKEND=tensorflow
cd /work/r47/seed2
echo "== start $(date -u +%H:%M:%S) $(git -C /work/frozen/s46 log --oneline | head -1)"
for seed in ${SEEDS:-2}; do
  /usr/bin/time -v simple-diffusion train --dataset fashion --seed $seed --runs-dir runs_s$seed --quiet > train_s$seed.log 2>&1
  run=$(ls -dt runs_s$seed/*/ | grep -v latest | head -1)
  echo "== seed $seed trained $(date -u +%H:%M:%S) $run"
  /usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_s$seed.json > eval_s$seed.log 2>&1
  echo "== seed $seed scored $(date -u +%H:%M:%S)"
done
