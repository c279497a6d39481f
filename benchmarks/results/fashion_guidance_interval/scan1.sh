#!/bin/bash
# Sampling settings on the fashion run: choose on seed 1 with 500 samples, then report on seed 0 with 1000.
source /work/venv/bin/activate
cd /work/r41
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s41b
RUN=/work/r41/fashion_runs/latest
ev() {  # name, then evaluate flags
  name=$1; shift
  mkdir -p eval/$name
  /usr/bin/time -f "%e s wall" python -m keras_simple_diffusion evaluate --quiet --checkpoint $RUN "$@" --json eval/$name/evaluation.json > eval/$name/log.txt 2>&1
  python - "$name" <<'PY'
import json, sys
name = sys.argv[1]
m = json.load(open(f"eval/{name}/evaluation.json"))
print(name, "acc %.3f/%.3f" % (m["class_accuracy"], m["real_class_accuracy"]),
      "fd %.2f pooled %.2f" % (m["fd_ratio"], m["pixel_fd_ratio"]), flush=True)
PY
}
S="--num-samples 500 --seed 1"
ev s1_g0 $S --guidance 0
ev s1_g1 $S --guidance 1
ev s1_g1_i-3.4,2.5 $S --guidance 1 --guidance-interval -3.4 2.5
ev s1_g2_i-3.4,2.5 $S --guidance 2 --guidance-interval -3.4 2.5
ev s1_g3_i-3.4,2.5 $S --guidance 3 --guidance-interval -3.4 2.5
ev s1_g2_i-2,inf $S --guidance 2 --guidance-interval -2 inf
ev s1_g2_i-5,1 $S --guidance 2 --guidance-interval -5 1
