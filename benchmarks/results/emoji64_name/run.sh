#!/bin/bash
# Each emoji its own class (`emoji:name`, no text encoder), every other flag at the emoji
# default (uvit-emoji, 64 px, 4000 steps of batch 32), seed 0; then scored like the text runs:
# 500 samples, one from each of 500 emoji in a seeded order, guidance 1, the CLI's sampler.
# Waits for the process given as $1 (the sampler scan) so that the two never share the cores.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s52 KERAS_BACKEND=tensorflow
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/r51/emoji_name
echo "== train start $(date -u +%H:%M:%S)"
/usr/bin/time -v simple-diffusion train --dataset emoji:name --seed 0 --runs-dir runs > train.log 2>&1
echo "== train done $(date -u +%H:%M:%S) rc=$?"
/usr/bin/time -v simple-diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 1 --json g1/evaluation.json > eval.log 2>&1
echo "== evaluate done $(date -u +%H:%M:%S) rc=$?"
