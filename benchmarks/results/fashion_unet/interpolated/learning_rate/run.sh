#!/bin/bash
# Fashion-MNIST default run with another peak learning rate (seed 0), scored with evaluate's
# defaults on sampling seeds 0 and 1. Usage: run.sh LR
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s53 KERAS_BACKEND=tensorflow
lr=$1
cd /work/r52/fashion_lr
echo "== lr $lr train start $(date -u +%H:%M:%S) $(git -C /work/frozen/s53 log --oneline | head -1)"
/usr/bin/time -v simple-diffusion train --dataset fashion --seed 0 --learning-rate $lr --runs-dir runs_lr$lr > train_lr$lr.log 2>&1
echo "== trained $(date -u +%H:%M:%S) rc=$?"
run=$(ls -d runs_lr$lr/2026*/)
for s in 0 1; do
  /usr/bin/time -v simple-diffusion evaluate --checkpoint $run --seed $s --json lr${lr}_seed$s.json > eval_lr${lr}_seed$s.log 2>&1
  echo "== scored sampling seed $s $(date -u +%H:%M:%S) rc=$?"
done
