#!/bin/bash
# unet-digits with attention only at the bottom (7 x 7), Fashion-MNIST, TF.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s46 KERAS_BACKEND=tensorflow
cd /work/r47/att8
echo "== start $(date -u +%H:%M:%S) $(git -C /work/frozen/s46 log --oneline | head -1)"
for job in ${JOBS:-6000:0}; do
  steps=${job%:*}; seed=${job#*:}
  /usr/bin/time -v python train.py $steps $seed runs_${steps}_s$seed > train_${steps}_s$seed.log 2>&1
  run=$(ls -dt runs_${steps}_s$seed/*/ | grep -v latest | head -1)
  echo "== $steps s$seed trained $(date -u +%H:%M:%S) $run"
  /usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_${steps}_s$seed.json > eval_${steps}_s$seed.log 2>&1
  echo "== $steps s$seed scored $(date -u +%H:%M:%S)"
done
