#!/bin/bash
source /work/venv/bin/activate
cd /work/r41
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s41c
/usr/bin/time -v python -m keras_simple_diffusion train --dataset fashion --seed 0 --transformer-width 192 --transformer-depth 4 --steps 4000 --runs-dir /work/r41/trialA_runs > /work/r41/trialA_train.log 2>&1
