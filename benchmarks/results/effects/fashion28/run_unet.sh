#!/bin/bash
# Fashion-MNIST at 28 px: the U-Net of the default run (the study's "unet" variant, unet-digits) beside the study's base and peers, 8 minutes, seeds 0 and 1.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s46 KERAS_BACKEND=tensorflow
cd /work/frozen/s46
echo "== start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
python -m benchmarks.effects --study fashion28 --variants unet --seeds 0 1 --budget-min 8 --every-min 8 --out /work/r47/f28/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== done $(date -u +%H:%M:%S)"
