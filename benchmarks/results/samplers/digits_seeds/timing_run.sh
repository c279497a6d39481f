#!/bin/bash
# Seed-0 rows of the 16/24/32-step solver settings, then interleaved timing on an idle machine.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/d1 KERAS_BACKEND=tensorflow
cd /work/frozen/d1
T=ancestral:128,dpmpp-2m-sde:32,dpmpp-2m-sde:24,dpmpp-2m-sde:16
python -m benchmarks.samplers --checkpoint /work/druns/runs/latest --samplers ancestral --steps 128 \
  --num-samples 500 --guidance 0 --out /work/sres/timing/out --timing $T,$T,$T 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== done $(date -u +%H:%M:%S)"
