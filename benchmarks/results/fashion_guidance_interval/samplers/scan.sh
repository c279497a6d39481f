#!/bin/bash
# The seed-0 default Fashion-MNIST model (../, trained on c4d6cde) under other
# samplers at the CLI's guidance (weight 1 on [-2.5, 2.5]), 1000 samples, seed 0;
# run from a frozen clone of 85ee7df (PYTHONPATH), TensorFlow, nice 10.
source /work/venv/bin/activate
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s42
RUN=/work/r41/fashion_runs/latest
ev() {  # name, then evaluate flags
  name=$1; shift
  mkdir -p eval/$name
  python -m keras_simple_diffusion evaluate --quiet --checkpoint $RUN "$@" --json eval/$name/evaluation.json > eval/$name/log.txt 2>&1
  python - "$name" <<'PY'
import json, sys
name = sys.argv[1]
m = json.load(open(f"eval/{name}/evaluation.json"))
print(name, "acc %.3f/%.3f" % (m["class_accuracy"], m["real_class_accuracy"]),
      "fd %.2f pooled %.2f" % (m["fd_ratio"], m["pixel_fd_ratio"]), flush=True)
PY
}
S="--num-samples 1000 --seed 0 --guidance 1 --guidance-interval -2.5 2.5"
ev n1000_s0_g1i_sde64 $S --steps 64
ev n1000_s0_g1i_anc128 $S --sampler ancestral --steps 128
ev n1000_s0_g1i_2m32 $S --sampler dpmpp-2m
ev n1000_s0_g1i_sde16 $S --steps 16
