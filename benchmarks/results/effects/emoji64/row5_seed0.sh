#!/bin/bash
# Seed 0 of the eps row again: its first calibration ran beside other work and planned
# 349 steps (7 of its 12 minutes); alone after the fashion seed.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s47 KERAS_BACKEND=tensorflow
while kill -0 1392 2>/dev/null; do sleep 10; done
while kill -0 $(cat /work/r48/chain.pid) 2>/dev/null; do sleep 10; done
mv /work/r45/emoji64_peers/out/emoji64/weighting-eps-s0 /work/r48/weighting-eps-s0-short
cd /work/frozen/s47
echo "== weighting-eps seed 0 start $(date -u +%H:%M:%S)"
python -m benchmarks.effects --study emoji64 --variants weighting-eps --seeds 0 --budget-min 12 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r45/emoji64_peers/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== weighting-eps seed 0 done $(date -u +%H:%M:%S)"
