#!/bin/bash
# The one-head fashion runs scored with guidance 1.5 on logSNR [-2, 2.5] (the U-ViT's best),
# everything else at evaluate's defaults.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s47b KERAS_BACKEND=tensorflow
cd /work/r48/fashion
for seed in 0 1 2; do
  run=$(ls -d runs_s$seed/2026*/)
  simple-diffusion evaluate --checkpoint $run --guidance 1.5 --guidance-interval -2 2.5 --json g15_s$seed.json > g15_s$seed.log 2>&1
  echo "== seed $seed $(date -u +%H:%M:%S)"
done
