#!/bin/bash
source /work/venv/bin/activate
cd /work/r41
export KERAS_BACKEND=tensorflow PYTHONPATH=/work/frozen/s41b
source <(sed -n '/^RUN=/,/^}/p' fashion_eval.sh)
S="--num-samples 500 --seed 1"
ev s1_g1_i-2,inf $S --guidance 1 --guidance-interval -2 inf
ev s1_g1_i-1,inf $S --guidance 1 --guidance-interval -1 inf
ev s1_g1.5_i-1,inf $S --guidance 1.5 --guidance-interval -1 inf
ev s1_g1_i0,inf $S --guidance 1 --guidance-interval 0 inf
ev s1_g2_i0,inf $S --guidance 2 --guidance-interval 0 inf
ev s1_g1_i-2,2.5 $S --guidance 1 --guidance-interval -2 2.5
ev s1_g2_i1,inf $S --guidance 2 --guidance-interval 1 inf
