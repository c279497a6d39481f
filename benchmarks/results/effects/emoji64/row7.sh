#!/bin/bash
# After the fashion sampling scan: the emoji-64 study's downsampling rows (patching, none) and the
# schedule's shift-16 row, two seeds each, 12 minutes a run; then /work/r49/last.sh if it exists.
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s48
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/frozen/s48
for variant in downsample-patch downsample-none shift-16; do
  echo "== $variant start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
  python -m benchmarks.effects --study emoji64 --variants $variant --seeds 0 1 --budget-min 12 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r45/emoji64_peers/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
  echo "== $variant done $(date -u +%H:%M:%S)"
done
if [ -x /work/r49/last.sh ]; then echo "== last.sh $(date -u +%H:%M:%S)"; /work/r49/last.sh; fi
echo "== chain done $(date -u +%H:%M:%S)"
