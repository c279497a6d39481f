#!/bin/bash
source /work/venv/bin/activate
cd /work/r41
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s41c
while pgrep -f "seed1.sh" >/dev/null; do sleep 5; done
RUN=/work/r40/emoji64_s0/runs/latest
for args in "g1:--guidance 1" "g1_i-2.5,2.5:--guidance 1 --guidance-interval -2.5 2.5" "g3_i-2.5,2.5:--guidance 3 --guidance-interval -2.5 2.5"; do
  name=${args%%:*}; flags=${args#*:}
  mkdir -p emoji_eval/$name
  /usr/bin/time -f "%e s wall" python -m keras_simple_diffusion evaluate --quiet --checkpoint $RUN --num-samples 500 --seed 0 $flags --json emoji_eval/$name/evaluation.json > emoji_eval/$name/log.txt 2>&1
  python -c "
import json; m=json.load(open('emoji_eval/$name/evaluation.json'))
print('$name', m['guidance_interval'], 'top1 %.3f top5 %.3f pooled %.2f patch %.2f' % (m['top1_retrieval'], m['top5_retrieval'], m['pixel_fd_ratio'], m['patch_fd_ratio']), flush=True)"
done
