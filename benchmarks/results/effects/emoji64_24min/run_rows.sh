#!/bin/bash
# After the Fashion-MNIST runs: the emoji-64 study's rows VARIANTS (default base) at twice the budget
# (24 minutes, scored at 12 and 24), training seed 0, to see whether their ranking holds.
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s50
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/frozen/s50
for variant in ${VARIANTS:-base}; do
  echo "== $variant start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
  python -m benchmarks.effects --study emoji64 --variants $variant --seeds 0 --budget-min 24 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r50/emoji24/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
  echo "== $variant done $(date -u +%H:%M:%S)"
done
echo "== chain done $(date -u +%H:%M:%S)"
