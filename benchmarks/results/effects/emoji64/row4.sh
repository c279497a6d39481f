#!/bin/bash
# Emoji at 64 px, more rows of the study (seeds 0 and 1, 12 minutes each, the peers' budget):
# the interpolated schedule, and dropout at 16 x 16 and below.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s46 KERAS_BACKEND=tensorflow
cd /work/frozen/s46
for variant in ${VARIANTS:-interpolated dropout-low-res}; do
  echo "== $variant start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
  python -m benchmarks.effects --study emoji64 --variants $variant --seeds 0 1 --budget-min 12 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r45/emoji64_peers/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
  echo "== $variant done $(date -u +%H:%M:%S)"
done
