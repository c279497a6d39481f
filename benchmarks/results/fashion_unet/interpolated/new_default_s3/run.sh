#!/bin/bash
# The new default Fashion-MNIST run as a user runs it (interpolated schedule 14 -> 28, guidance 1 on
# [-2, 2.5]), a fourth training seed, scored with evaluate's defaults; then the three runs of the
# interpolated schedule (trained with --noise-d-high 28, the same recipe) scored at weight 1 on
# sampling seed 1.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s51 KERAS_BACKEND=tensorflow
cd /work/r50/fashion_new_default
echo "== new default seed 3 start $(date -u +%H:%M:%S) $(git -C /work/frozen/s51 log --oneline | head -1)"
/usr/bin/time -v simple-diffusion train --dataset fashion --seed 3 --runs-dir runs > train_s3.log 2>&1
echo "== trained $(date -u +%H:%M:%S) rc=$?"
run=$(ls -d runs/2026*/)
/usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_s3.json > eval_s3.log 2>&1
echo "== scored $(date -u +%H:%M:%S) rc=$?"
for s in 0 1 2; do
  run=$(ls -d /work/r50/fashion_interp/runs_s$s/2026*/)
  echo "== interpolated seed $s, guidance 1, sampling seed 1 start $(date -u +%H:%M:%S)"
  simple-diffusion evaluate --checkpoint $run --guidance 1 --seed 1 --json interp_s${s}_g1_seed1.json > interp_s${s}_g1_seed1.log 2>&1
  echo "== done $(date -u +%H:%M:%S) rc=$?"
done
