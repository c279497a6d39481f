#!/bin/bash
# After the chain: the emoji study's interpolated row at 24 minutes, seed 1, alone.
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s55
while kill -0 18177 2>/dev/null > /dev/null; do sleep 10; done
cd /work/frozen/s55
echo "== interpolated seed 1 start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
python -m benchmarks.effects --study emoji64 --variants interpolated --seeds 1 --budget-min 24 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r55/emoji24/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== interpolated seed 1 done $(date -u +%H:%M:%S)"
