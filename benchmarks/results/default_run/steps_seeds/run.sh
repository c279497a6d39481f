#!/bin/bash
# The default digits run at 3000 steps against its default 4000, training seeds 0-2,
# each judged by `evaluate --num-samples 500 --guidance 0 --seed 0` (CLI defaults otherwise).
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=<frozen clone of 85ee7df>
while pgrep -f scan_steps.sh >/dev/null; do sleep 20; done
for S in 0 1 2; do
  for N in 3000 4000; do
    d=/work/r42/digits/steps${N}_seed$S; mkdir -p $d; cd $d
    echo "$(date +%T) train steps $N seed $S (load $(cut -d' ' -f1 /proc/loadavg))"
    /usr/bin/time -v python -m keras_simple_diffusion train --steps $N --seed $S > train.log 2>&1
    grep -E "Elapsed|Maximum resident" train.log
    python -m keras_simple_diffusion evaluate --quiet --checkpoint runs/latest --num-samples 500 --guidance 0 --seed 0 --json evaluation.json > eval.log 2>&1
    python -c "
import json; m=json.load(open('evaluation.json'))
print('steps $N seed $S', 'acc %.3f' % m['class_accuracy'], 'fd %.2f pooled %.2f' % (m['fd_ratio'], m['pixel_fd_ratio']), flush=True)"
  done
done
echo "$(date +%T) done"
