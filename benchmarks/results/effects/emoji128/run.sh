#!/bin/bash
# The emoji study at 128 px: row V for seed S, 16 minutes scored every M minutes (default 8: at 8 and 16), alone, from the frozen clone /work/frozen/s58. Usage: run.sh V S [M]
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s58
cd /work/frozen/s58
echo "== $1 seed $2 start $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg) $(git log --oneline | head -1)"
python -m benchmarks.effects --study emoji128 --variants $1 --seeds $2 --budget-min 16 --every-min ${3:-8} --eval-samples 200 --eval-steps 32 --out /work/r58/emoji128/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== $1 seed $2 done $(date -u +%H:%M:%S)"
