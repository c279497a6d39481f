#!/bin/bash
# The default Fashion-MNIST run as a user runs it now (the model's own guidance, 1.5 on [-2, 2.5]),
# training seed 0, scored with evaluate's defaults; the same seed ran before the change.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s49 KERAS_BACKEND=tensorflow
mkdir -p /work/r49/fashion_default && cd /work/r49/fashion_default
echo "== fashion start $(date -u +%H:%M:%S) $(git -C /work/frozen/s49 log --oneline | head -1)"
/usr/bin/time -v simple-diffusion train --dataset fashion --seed 0 --runs-dir runs > train_s0.log 2>&1
run=$(ls -d runs/2026*/)
echo "== fashion trained $(date -u +%H:%M:%S) $run"
/usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_s0.json > eval_s0.log 2>&1
echo "== fashion scored $(date -u +%H:%M:%S)"
