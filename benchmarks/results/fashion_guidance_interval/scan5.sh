#!/bin/bash
source /work/venv/bin/activate
cd /work/r41
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s41b
source <(sed -n '/^RUN=/,/^}/p' fashion_eval.sh)
S="--num-samples 1000"
ev n1000_s0_g1.5_i-2,2.5 $S --seed 0 --guidance 1.5 --guidance-interval -2 2.5
ev n1000_s2_g1.5_i-2,2.5 $S --seed 2 --guidance 1.5 --guidance-interval -2 2.5
ev n1000_s0_g1 $S --seed 0 --guidance 1
ev n1000_s0_g1_i-2.5,2.5 $S --seed 0 --guidance 1 --guidance-interval -2.5 2.5
ev n1000_s0_g0 $S --seed 0 --guidance 0
