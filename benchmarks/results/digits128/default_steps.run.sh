#!/bin/bash
# simple-diffusion train --image-size 128 with every other flag at its default, then evaluate.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/d3 KERAS_BACKEND=tensorflow
cd /work/d128
echo "== train $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
/usr/bin/time -v python -m keras_simple_diffusion train --image-size 128 > train.log 2> train.err
echo "== evaluate $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 0 --json eval_guidance0.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --json eval_defaults.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== done $(date -u +%H:%M:%S)"
