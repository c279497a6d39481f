#!/bin/bash
# After scan2.sh ($1): the guidance interval's lower end between -2 and -1, and -1 on the other two runs;
# dpmpp-2m-sde, 32 steps, guidance 1, sampling seed 0, 1000 samples.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s51 KERAS_BACKEND=tensorflow
declare -A RUN=([0]=/work/r50/fashion_interp/runs_s0/20261205-190736 [1]=/work/r50/fashion_interp/runs_s1/20261205-192750 [2]=/work/r50/fashion_interp/runs_s2/20261205-194913 [3]=/work/r50/fashion_new_default/runs/20261205-201212)
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/r51/sampler_scan
score() {  # name, run seed, evaluate flags...
  local name=$1 s=$2; shift 2
  echo "== $name start $(date -u +%H:%M:%S)"
  /usr/bin/time -v simple-diffusion evaluate --checkpoint ${RUN[$s]} "$@" --json $name.json > $name.log 2>&1
  echo "== $name done $(date -u +%H:%M:%S) rc=$?"
  cp report.png $name.png 2>/dev/null
}
score s1_g1_-1_2.5 1 --guidance 1 --guidance-interval -1 2.5
score s3_g1_-1_2.5 3 --guidance 1 --guidance-interval -1 2.5
score s2_g1_-1.5_2.5 2 --guidance 1 --guidance-interval -1.5 2.5
score s0_g1_-1.5_2.5 0 --guidance 1 --guidance-interval -1.5 2.5
