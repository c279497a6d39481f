#!/bin/bash
# Guidance rescale PHI on one run, sampling seeds 0 and 1 (niced; the
# label-dropout training of fashion_ld ran beside it). Usage: run.sh RUN PHI
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s57 KERAS_BACKEND=tensorflow
cd /work/r57/rescale
run=$1; phi=$2
for s in 0 1; do
  echo "== $run phi $phi seed $s $(date -u +%H:%M:%S)"
  nice -n 19 python try.py $run $phi $s $(basename $(dirname $run))_phi${phi}_seed$s.json > log_$(basename $(dirname $run))_phi${phi}_seed$s.txt 2>&1
done
echo "== done $(date -u +%H:%M:%S)"
