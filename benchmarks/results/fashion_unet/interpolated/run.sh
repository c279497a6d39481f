#!/bin/bash
# The default Fashion-MNIST run with the interpolated schedule: noise_d 14 (the default) at pure noise to 28
# (the image size) at the fine-detail end, training seed S; scored with evaluate's defaults.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s50 KERAS_BACKEND=tensorflow
cd /work/r50/fashion_interp
for s in "$@"; do
  echo "== noise_d 14 -> 28 seed $s start $(date -u +%H:%M:%S) $(git -C /work/frozen/s50 log --oneline | head -1)"
  /usr/bin/time -v simple-diffusion train --dataset fashion --noise-d-high 28 --seed $s --runs-dir runs_s$s > train_s$s.log 2>&1
  run=$(ls -d runs_s$s/2026*/)
  echo "== trained $(date -u +%H:%M:%S) $run rc=$?"
  /usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_s$s.json > eval_s$s.log 2>&1
  echo "== scored $(date -u +%H:%M:%S) rc=$?"
done
