#!/bin/bash
# Emoji at 64 px, the study's sigmoid loss weighting row (seeds 0 and 1, 12 minutes each),
# alone once CI is done.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s47 KERAS_BACKEND=tensorflow
until grep -q "^rc=" /work/r48/ci.log 2>/dev/null; do sleep 10; done
cd /work/frozen/s47
for variant in weighting-sigmoid; do
  echo "== $variant start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
  python -m benchmarks.effects --study emoji64 --variants $variant --seeds 0 1 --budget-min 12 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r45/emoji64_peers/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
  echo "== $variant done $(date -u +%H:%M:%S)"
done
