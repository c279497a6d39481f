#!/bin/bash
# Fashion-MNIST default run with a shorter weight EMA (seed 0), scored with evaluate's
# defaults on sampling seeds 0 and 1.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s53 KERAS_BACKEND=tensorflow
cd /work/r52/fashion_ema
echo "== ema 0.995 train start $(date -u +%H:%M:%S) $(git -C /work/frozen/s53 log --oneline | head -1)"
/usr/bin/time -v simple-diffusion train --dataset fashion --seed 0 --ema-momentum 0.995 --runs-dir runs > train_log.txt 2>&1
echo "== trained $(date -u +%H:%M:%S) rc=$?"
for s in 0 1; do
  /usr/bin/time -v simple-diffusion evaluate --checkpoint runs/latest --seed $s --json evaluation_seed$s.json > evaluate_seed${s}_log.txt 2>&1
  echo "== scored sampling seed $s $(date -u +%H:%M:%S) rc=$?"
done
