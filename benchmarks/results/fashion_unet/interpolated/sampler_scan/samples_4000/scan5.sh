#!/bin/bash
# After CI ($1): the default run as a user runs it (training seed 3) scored with 4000 samples
# instead of 1000, on sampling seeds 0 and 1, the CLI's settings otherwise: how much of the
# spread between sampling seeds is the sample count.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s51 KERAS_BACKEND=tensorflow
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/r51/sampler_scan
for seed in 0 1; do
  name=s3_n4000_seed$seed
  echo "== $name start $(date -u +%H:%M:%S)"
  /usr/bin/time -v simple-diffusion evaluate --checkpoint /work/r50/fashion_new_default/runs/20261205-201212 --num-samples 4000 --seed $seed --json $name.json > $name.log 2>&1
  echo "== $name done $(date -u +%H:%M:%S) rc=$?"
done
