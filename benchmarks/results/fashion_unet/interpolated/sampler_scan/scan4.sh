#!/bin/bash
# 24 dpmpp-2m-sde steps (guidance 1 on [-2, 2.5], which then guides the steps at logSNR 1.25, 0
# and -1.25, and 2.5 at its edge) on every training seed and two sampling seeds; the default's 32 steps on the one
# pair not scored before (training seed 3, sampling seed 1). 1000 samples each. Niced beside the
# emoji:name training, which keeps its priority.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s51 KERAS_BACKEND=tensorflow
declare -A RUN=([0]=/work/r50/fashion_interp/runs_s0/20261205-190736 [1]=/work/r50/fashion_interp/runs_s1/20261205-192750 [2]=/work/r50/fashion_interp/runs_s2/20261205-194913 [3]=/work/r50/fashion_new_default/runs/20261205-201212)
cd /work/r51/sampler_scan
score() {  # name, run seed, evaluate flags...
  local name=$1 s=$2; shift 2
  echo "== $name start $(date -u +%H:%M:%S)"
  /usr/bin/time -v nice -n 19 simple-diffusion evaluate --checkpoint ${RUN[$s]} "$@" --json $name.json > $name.log 2>&1
  echo "== $name done $(date -u +%H:%M:%S) rc=$?"
  cp report.png $name.png 2>/dev/null
}
for s in 0 1 3; do score s${s}_sde_24 $s --guidance 1 --steps 24; done
for s in 0 1 2 3; do score s${s}_sde_24_seed1 $s --guidance 1 --steps 24 --seed 1; done
score s3_sde_32_seed1 3 --guidance 1 --seed 1
