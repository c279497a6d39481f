#!/bin/bash
# Beside the CI run (niced): does the emoji model use its captions, and its captioned grid.
source /work/venv/bin/activate
cd /work/r38/emoji64_s0
export PYTHONPATH=/work/frozen/s38c KERAS_BACKEND=tensorflow
echo "== caption sensitivity $(date -u +%H:%M:%S) ($(git -C /work/frozen/s38c rev-parse --short HEAD))"
nice -n 10 python -m benchmarks.caption_sensitivity --checkpoint runs/latest --num-images 256 --out caption_sensitivity.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== prompt grid $(date -u +%H:%M:%S)"
nice -n 10 python -m benchmarks.prompt_grid --checkpoint runs/latest --count 16 --guidance 3 --out prompt_grid_g3.png 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== done $(date -u +%H:%M:%S)"
