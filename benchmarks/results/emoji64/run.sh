#!/bin/bash
# Background measurements of this stop, from the frozen clone /work/frozen/s38.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s38 KERAS_BACKEND=tensorflow
ksd() { python -m keras_simple_diffusion "$@" 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"; }
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r38/emoji64_s0
stamp "train emoji seed 0 ($(git -C /work/frozen/s38 rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset emoji --seed 0 > train.log 2> train.err
for g in 1 3; do
  stamp "evaluate guidance $g"
  ksd evaluate --checkpoint runs/latest --num-samples 500 --guidance $g --json eval_g$g.json --report report_g$g.png
done
stamp done
