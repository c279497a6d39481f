#!/bin/bash
# The default emoji run at 128 px, training seed 1, with the multiscale loss
# off (the plain loss at 128 px) and every other setting at its default: the
# default run's seed 1 (../seed1/) with one change. Alone, from the frozen
# clone /work/frozen/s58 of efd1f40. The CLI has no flag for the loss's
# scales (the study sets them), so the training goes through the Python API.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s58 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
cd /work/r59/emoji128_single_s1
stamp "train emoji 128 px seed 1, plain loss ($(git -C /work/frozen/s58 rev-parse --short HEAD))"
/usr/bin/time -v python -c "
from keras_simple_diffusion.training import TrainConfig, train
_, run_dir = train(TrainConfig(dataset='emoji', image_size=128, seed=1, multiscale=False))
print('Saved', run_dir)
" > train.log 2> train.err
mkdir -p g1
stamp "evaluate guidance 1"
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 1 --json g1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
stamp done
