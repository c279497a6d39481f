#!/bin/bash
# Fashion-MNIST default run with a longer weight EMA (momentum 0.999, a horizon of about 1000 of
# the 4800 steps, against the default's 1 - 10/4800 = 0.9979), training seed 0, scored with
# evaluate's defaults; alone once CI is done.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s49 KERAS_BACKEND=tensorflow
until grep -q "^rc=" /work/r49/ci.log 2>/dev/null; do sleep 10; done
cd /work/r49/fashion_ema
echo "== start $(date -u +%H:%M:%S) $(git -C /work/frozen/s49 log --oneline | head -1)"
/usr/bin/time -v simple-diffusion train --dataset fashion --seed 0 --ema-momentum 0.999 --runs-dir runs > train_s0.log 2>&1
run=$(ls -d runs/2026*/)
echo "== trained $(date -u +%H:%M:%S) $run"
/usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_s0.json > eval_s0.log 2>&1
echo "== scored $(date -u +%H:%M:%S)"
