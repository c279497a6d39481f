#!/bin/bash
# Emoji at 64 px, the architecture row: the U-Net of the same size against the base U-ViT, seeds 0 and 1, the peers' budget.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s45 KERAS_BACKEND=tensorflow
cd /work/frozen/s45
echo "== start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
python -m benchmarks.effects --study emoji64 --variants unet --seeds 0 1 --budget-min 12 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r45/emoji64_peers/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== done $(date -u +%H:%M:%S)"
