#!/bin/bash
# After the emoji run (pid $1): the default Fashion-MNIST run with attention at
# 7 x 7 only, 6000 steps, training seed 0; scored with evaluate's defaults on
# sampling seeds 0 and 1. Alone, from the frozen clone /work/frozen/s54c.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s54c KERAS_BACKEND=tensorflow
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/r54/fashion_att8
echo "== train start $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg) $(git -C /work/frozen/s54c log --oneline | head -1)"
/usr/bin/time -v python train.py 6000 0 runs_s0 > train_log.txt 2>&1
run=$(ls -d runs_s0/2026*/)
echo "== trained $(date -u +%H:%M:%S) $run"
for s in 0 1; do
  /usr/bin/time -v python -m keras_simple_diffusion evaluate --checkpoint $run --seed $s --json evaluation_seed$s.json > evaluate_seed${s}_log.txt 2>&1
  echo "== scored seed $s $(date -u +%H:%M:%S)"
done
