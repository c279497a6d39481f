#!/bin/bash
# Fashion-MNIST's default run with the sigmoid loss weighting (`--loss-weighting sigmoid`), seed 0, scored with evaluate's defaults.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s46 KERAS_BACKEND=tensorflow
cd /work/r47/sigmoid
echo "== start $(date -u +%H:%M:%S) $(git -C /work/frozen/s46 log --oneline | head -1)"
for seed in ${SEEDS:-0}; do
  /usr/bin/time -v simple-diffusion train --dataset fashion --loss-weighting sigmoid --seed $seed --runs-dir runs_s$seed --quiet > train_s$seed.log 2>&1
  run=$(ls -dt runs_s$seed/*/ | grep -v latest | head -1)
  echo "== seed $seed trained $(date -u +%H:%M:%S) $run"
  /usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_s$seed.json > eval_s$seed.log 2>&1
  echo "== seed $seed scored $(date -u +%H:%M:%S)"
done
