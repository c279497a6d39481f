#!/bin/bash
# The emoji study's row V at 24 minutes for seed S, alone, from the frozen clone /work/frozen/s65. Usage: run.sh V S
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s65
cd /work/frozen/s65
echo "== $1 seed $2 start $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg) $(git log --oneline | head -1)"
python -m benchmarks.effects --study emoji64 --variants $1 --seeds $2 --budget-min 24 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r65/emoji24/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== $1 seed $2 done $(date -u +%H:%M:%S)"
