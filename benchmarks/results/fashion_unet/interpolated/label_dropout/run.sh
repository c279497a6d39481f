#!/bin/bash
# Fashion-MNIST default run with another null-label probability (training
# seed 0), scored with evaluate's defaults on sampling seeds 0 and 1; alone
# but for the niced guidance-rescale evaluations in its first 7 minutes,
# from the frozen clone /work/frozen/s57. Usage: run.sh P
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s57 KERAS_BACKEND=tensorflow
p=$1
cd /work/r57/fashion_ld
echo "== label dropout $p train start $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg) $(git -C /work/frozen/s57 log --oneline | head -1)"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset fashion --seed 0 --label-dropout $p --runs-dir runs_ld$p > train_ld$p.log 2>&1
echo "== trained $(date -u +%H:%M:%S) rc=$?"
run=$(ls -d runs_ld$p/2026*/)
for s in 0 1; do
  /usr/bin/time -v python -m keras_simple_diffusion evaluate --checkpoint $run --seed $s --json ld${p}_seed$s.json > eval_ld${p}_seed$s.log 2>&1
  echo "== scored sampling seed $s $(date -u +%H:%M:%S) rc=$?"
done
