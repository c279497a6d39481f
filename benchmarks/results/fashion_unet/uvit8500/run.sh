#!/bin/bash
# Fashion-MNIST: the U-ViT default (uvit-digits) given the U-Net's 14 minutes,
# 8500 steps at its 0.10 s a step; training seed 0, scored with `evaluate`'s
# defaults (1000 samples, sampling seed 0).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s45 KERAS_BACKEND=tensorflow
cd /work/r46/fashion/uvit8500
while pgrep -f "unet4000/run.sh" > /dev/null; do sleep 15; done
echo "== start $(date -u +%H:%M:%S) $(git -C /work/frozen/s45 log --oneline | head -1)"
/usr/bin/time -v simple-diffusion train --dataset fashion --steps 8500 --seed 0 --runs-dir runs_s0 --quiet > train_s0.log 2>&1
run=$(ls -dt runs_s0/*/ | grep -v latest | head -1)
echo "== seed 0 trained $(date -u +%H:%M:%S) $run"
/usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_s0.json > eval_s0.log 2>&1
echo "== seed 0 scored $(date -u +%H:%M:%S)"
