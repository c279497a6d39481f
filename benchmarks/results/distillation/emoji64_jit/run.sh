#!/bin/bash
# Distillation's step on the 64 px emoji teacher (seed 2), TensorFlow with XLA
# and as a plain graph: one round of 90 steps, epochs of 30 (grid and
# checkpoint at each), alone, from the frozen clone /work/frozen/s55.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s55 KERAS_BACKEND=tensorflow
cd /work/r55/distill_jit
for jit in true false; do
  echo "== jit_compile $jit $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
  timeout 420 python -m keras_simple_diffusion distill --checkpoint /work/r54/emoji64_s2/runs/20261206-100556 --steps 64 --steps-per-round 90 --sample-every 30 --checkpoint-every 30 --jit-compile $jit --runs-dir runs_$jit 2>&1 | tr '\r' '\n' | grep -E "step|Epoch|Saved|Error|error" | grep -v "cuda\|absl\|I0000\|WARNING"
done
echo "== done $(date -u +%H:%M:%S)"
