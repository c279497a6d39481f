#!/bin/bash
# Background measurements of this stop, from the frozen clone /work/frozen/s40.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s40 KERAS_BACKEND=tensorflow
ksd() { python -m keras_simple_diffusion "$@" 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"; }
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r40/emoji64_s0
stamp "train emoji seed 0 ($(git -C /work/frozen/s40 rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset emoji --seed 0 > train.log 2> train.err
for g in 1 3; do
  stamp "evaluate guidance $g"
  mkdir -p g$g
  ksd evaluate --checkpoint runs/latest --num-samples 500 --guidance $g --json g$g/evaluation.json --report g$g/report.png
done
stamp "caption sensitivity"
python -m benchmarks.caption_sensitivity --checkpoint runs/latest --num-images 256 --out caption_sensitivity.json 2>&1 | grep -v "cuda\|absl\|I0000\|WARNING"
stamp "prompt grid"
python -m benchmarks.prompt_grid --checkpoint runs/latest --guidance 3 --out prompt_grid_g3.png 2>&1 | grep -v "cuda\|absl\|I0000\|WARNING"
stamp done
