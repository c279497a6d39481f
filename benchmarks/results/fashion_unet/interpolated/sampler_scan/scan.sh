#!/bin/bash
# The interpolated-schedule Fashion-MNIST runs (training seeds 0-3, the adopted default) scored with
# other samplers and step counts at guidance 1 on the saved interval [-2, 2.5] (runs 0-2 saved 1.5, the default then), sampling seed 0, 1000 samples.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s51 KERAS_BACKEND=tensorflow
declare -A RUN=([0]=/work/r50/fashion_interp/runs_s0/20261205-190736 [1]=/work/r50/fashion_interp/runs_s1/20261205-192750 [2]=/work/r50/fashion_interp/runs_s2/20261205-194913 [3]=/work/r50/fashion_new_default/runs/20261205-201212)
cd /work/r51/sampler_scan
for s in 2 0; do
  for cfg in "dpmpp-2m-sde 64" "dpmpp-2m 32" "ancestral 128"; do
    set -- $cfg
    name=s${s}_$1_$2
    echo "== $name start $(date -u +%H:%M:%S)"
    /usr/bin/time -v simple-diffusion evaluate --checkpoint ${RUN[$s]} --guidance 1 --sampler $1 --steps $2 --json $name.json > $name.log 2>&1
    echo "== $name done $(date -u +%H:%M:%S) rc=$?"
    cp report.png $name.png 2>/dev/null
  done
done
