#!/bin/bash
# Fashion-MNIST, the default run's U-ViT against the U-Net of about its size
# (unet-digits), every other flag at its default, training seed 0; each run
# then scored with `evaluate`'s defaults (1000 samples, sampling seed 0).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s45 KERAS_BACKEND=tensorflow
cd /work/r46/fashion
echo "== start $(date -u +%H:%M:%S) $(git -C /work/frozen/s45 log --oneline | head -1)"
for model in ${MODELS:-uvit-digits unet-digits}; do
  /usr/bin/time -v simple-diffusion train --dataset fashion --model $model --seed ${SEED:-0} --runs-dir runs_$model --quiet > train_$model.log 2>&1
  run=$(ls -dt runs_$model/*/ | grep -v latest | head -1)
  echo "== $model trained $(date -u +%H:%M:%S) $run"
  /usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_$model.json > eval_$model.log 2>&1
  echo "== $model scored $(date -u +%H:%M:%S)"
done
