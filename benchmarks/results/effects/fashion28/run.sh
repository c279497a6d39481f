#!/bin/bash
# Fashion-MNIST at 28 px: the package's default recipe against diffusers' and lucidrains' at equal time, seeds 0 and 1.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/d1 KERAS_BACKEND=tensorflow
cd /work/frozen/d1
python -m benchmarks.effects --study fashion28 --variants base,peers --seeds 0 1 --budget-min 8 --every-min 8 --out /work/sres/fpeers/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== done $(date -u +%H:%M:%S)"
