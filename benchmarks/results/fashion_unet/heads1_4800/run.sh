#!/bin/bash
# Fashion-MNIST: the default U-Net with one attention head (0.17 s a step against 0.235 with
# four on this machine), 4800 steps in the default's minutes, seeds 0 and 1, each scored with
# `evaluate`'s defaults; then two emoji-64 study rows (loss weighting eps and sigmoid).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s47 KERAS_BACKEND=tensorflow
cd /work/r48/fashion
echo "== start $(date -u +%H:%M:%S) $(git -C /work/frozen/s47 log --oneline | head -1)"
for seed in 0 1; do
  /usr/bin/time -v simple-diffusion train --dataset fashion --num-heads 1 --steps 4800 --seed $seed --runs-dir runs_s$seed > train_s$seed.log 2>&1
  run=$(ls -dt runs_s$seed/*/ | grep -v latest | head -1)
  echo "== seed $seed trained $(date -u +%H:%M:%S) $run"
  /usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_s$seed.json > eval_s$seed.log 2>&1
  echo "== seed $seed scored $(date -u +%H:%M:%S)"
done
cd /work/frozen/s47
for variant in weighting-eps weighting-sigmoid; do
  echo "== $variant start $(date -u +%H:%M:%S)"
  python -m benchmarks.effects --study emoji64 --variants $variant --seeds 0 1 --budget-min 12 --every-min 12 --eval-samples 200 --eval-steps 32 --out /work/r45/emoji64_peers/out 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
  echo "== $variant done $(date -u +%H:%M:%S)"
done
