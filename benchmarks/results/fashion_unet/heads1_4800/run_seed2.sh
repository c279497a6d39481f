#!/bin/bash
# After the chain: the new default as a user runs it, training seed 2
# (`simple-diffusion train --dataset fashion --seed 2`, then `evaluate`).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s47b KERAS_BACKEND=tensorflow
while kill -0 $(cat /work/r48/chain.pid) 2>/dev/null; do sleep 20; done
cd /work/r48/fashion
echo "== start $(date -u +%H:%M:%S) $(git -C /work/frozen/s47b log --oneline | head -1)"
for seed in 2; do
  /usr/bin/time -v simple-diffusion train --dataset fashion --seed $seed --runs-dir runs_s$seed > train_s$seed.log 2>&1
  run=$(ls -dt runs_s$seed/*/ | grep -v latest | head -1)
  echo "== seed $seed trained $(date -u +%H:%M:%S) $run"
  /usr/bin/time -v simple-diffusion evaluate --checkpoint $run --json eval_s$seed.json > eval_s$seed.log 2>&1
  echo "== seed $seed scored $(date -u +%H:%M:%S)"
done
