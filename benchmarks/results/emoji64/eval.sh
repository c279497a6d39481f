#!/bin/bash
# The emoji run's evaluations (the first chain's evaluate lines named a flag that does not exist).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s38 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
until grep -q "== done" /work/r38/chain.log; do sleep 20; done
cd /work/r38/emoji64_s0
for g in 1 3; do
  mkdir -p g$g
  stamp "evaluate guidance $g"
  /usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance $g --json g$g/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
done
stamp done
