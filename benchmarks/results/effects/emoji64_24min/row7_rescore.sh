#!/bin/bash
# The two sigmoid rows were scored with 16 draws of the real sets (the
# harness took evaluate_checkpoint's default); every committed row compares
# one pair. Their 16-draw scores kept as scores_draws16.json, the same
# checkpoints scored again with the harness's --reference-draws 1 (its
# default since this change), from /work/main at the change.
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/main
cd /work/main
echo "== rescore start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
python -m benchmarks.effects --study emoji64 --variants weighting-sigmoid --seeds 0 1 --budget-min 24 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r64/emoji24/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== rescore done $(date -u +%H:%M:%S)"
