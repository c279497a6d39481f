#!/bin/bash
# Progressive distillation of the default Fashion-MNIST run, as a user runs
# it, then the few-step benchmark at the run's guidance (1) with 1000
# samples a row, evaluate's default count; alone, from the frozen clone
# /work/frozen/s57.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s57 KERAS_BACKEND=tensorflow
cd /work/r57/fashion_distill
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
stamp "train fashion seed 0 ($(git -C /work/frozen/s57 rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset fashion --seed 0 --runs-dir teacher > train.log 2>&1
stamp "distill to 4 steps"
/usr/bin/time -v python -m keras_simple_diffusion distill --checkpoint teacher/latest --steps 4 --runs-dir distill > distill.log 2>&1
stamp "benchmark"
python -m benchmarks.distillation --teacher teacher/latest --distilled distill/latest --teacher-steps 128 --num-samples 1000 --guidance 1 --out results > benchmark.log 2>&1
stamp done
