#!/bin/bash
source /work/venv/bin/activate
cd /work/r41
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s41b
source <(sed -n '/^RUN=/,/^}/p' fashion_eval.sh)
S="--num-samples 500 --seed 1"
ev s1_g1_i-2.5,2.5 $S --guidance 1 --guidance-interval -2.5 2.5
ev s1_g1_i-2,1.5 $S --guidance 1 --guidance-interval -2 1.5
ev s1_g1_i-2,1 $S --guidance 1 --guidance-interval -2 1
ev s1_g1.5_i-2,2.5 $S --guidance 1.5 --guidance-interval -2 2.5
ev s1_g1_i-1.5,2 $S --guidance 1 --guidance-interval -1.5 2
