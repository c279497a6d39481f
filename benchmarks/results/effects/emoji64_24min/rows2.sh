#!/bin/bash
# The emoji-64 study's shift row at twice the budget (24 minutes, scored at 12 and 24): no-shift seeds 0 and 1
# and the base's seed 1, beside the base's seed 0 of an earlier session, to see whether the ranking holds.
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s53
cd /work/frozen/s53
for run in "no-shift 0" "base 1" "no-shift 1"; do
  set -- $run
  echo "== $1 seed $2 start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
  python -m benchmarks.effects --study emoji64 --variants $1 --seeds $2 --budget-min 24 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r53/emoji24/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
  echo "== $1 seed $2 done $(date -u +%H:%M:%S)"
done
echo "== chain done $(date -u +%H:%M:%S)"
