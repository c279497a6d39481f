#!/bin/bash
source /work/venv/bin/activate
cd /work/r41
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s41c
while pgrep -f "trialA_runs" >/dev/null; do sleep 10; done
RUN=/work/r41/trialA_runs/latest
for args in "g1:--guidance 1" "g1.5_i-2,2.5:--guidance 1.5 --guidance-interval -2 2.5" "g0:--guidance 0"; do
  name=${args%%:*}; flags=${args#*:}
  mkdir -p trialA_eval/$name
  /usr/bin/time -f "%e s wall" python -m keras_simple_diffusion evaluate --quiet --checkpoint $RUN --num-samples 1000 --seed 0 $flags --json trialA_eval/$name/evaluation.json > trialA_eval/$name/log.txt 2>&1
  python -c "
import json; m=json.load(open('trialA_eval/$name/evaluation.json'))
print('$name', m['guidance_interval'], 'acc %.3f (%.2fx) fd %.2f pooled %.2f' % (m['class_accuracy'], m['relative_class_accuracy'], m['fd_ratio'], m['pixel_fd_ratio']), flush=True)"
done
