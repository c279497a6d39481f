#!/bin/bash
# The default emoji run at 128 px, training seed 1, with SiD2's sigmoid loss
# weighting in place of v (every other setting at its default): the default
# run's seed 1 (../seed1/) with one change, because the section-5.1 study at
# 128 px found sigmoid nearer than v and eps in both distances after 16
# minutes, on both seeds. Alone, from the frozen clone /work/frozen/s62 of
# 443f920 (its emoji path is efd1f40's).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s62 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r62/emoji128_sigmoid_s1
stamp "train emoji 128 px seed 1, sigmoid weighting ($(git -C /work/frozen/s62 rev-parse --short HEAD))"
/usr/bin/time -v python -m keras_simple_diffusion train --dataset emoji --image-size 128 --seed 1 --loss-weighting sigmoid > train.log 2> train.err
mkdir -p g1
stamp "evaluate guidance 1"
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 1 --json g1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
stamp done
