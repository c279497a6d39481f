#!/bin/bash
# After CI: the emoji study's interpolated row at 24 minutes, seed 0, alone.
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s54d
while pgrep -f "ci/run" > /dev/null; do sleep 10; done
cd /work/frozen/s54d
echo "== interpolated seed 0 start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
python -m benchmarks.effects --study emoji64 --variants interpolated --seeds 0 --budget-min 24 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r54/emoji24/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== interpolated seed 0 done $(date -u +%H:%M:%S)"
