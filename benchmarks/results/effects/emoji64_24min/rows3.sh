#!/bin/bash
# no-shift seed 0 again, alone: its first run's calibration timed its steps while niced unit tests ran
# beside it (1.79 s a step), planned 804 steps and trained 16.4 of its 24 minutes; that run is set aside.
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s53
while kill -0 4093 2>/dev/null; do sleep 10; done
mv /work/r53/emoji24/out/emoji64/no-shift-s0 /work/r53/emoji24/no-shift-s0_short
cd /work/frozen/s53
echo "== no-shift seed 0 again start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
python -m benchmarks.effects --study emoji64 --variants no-shift --seeds 0 --budget-min 24 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r53/emoji24/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== no-shift seed 0 again done $(date -u +%H:%M:%S)"
