#!/bin/bash
# The digits step again with 120 timed steps (the 30-step run was bimodal between processes).
source /work/venv/bin/activate
cd /work/frozen/s38b
export PYTHONPATH=/work/frozen/s38b
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
until grep -q "== done" /work/r38/quiet.log; do sleep 5; done
stamp "digits: 120 steps"
python -m benchmarks.step_time --backends tensorflow,jax,torch --precisions float32,bfloat16 --steps 120 --repeats 2 --name digits32_precision_120 --out /work/r38/step_time 2>&1 | tail -10
stamp done
