#!/bin/bash
# A lead on the text seeds' spread: position is learned only in the low-learning-rate tail; the same run at peak 5e-4.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s37 KERAS_BACKEND=tensorflow
cd /work/r37/text_lr5e-4_s0
echo "== train $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
/usr/bin/time -v nice -n 10 python -m keras_simple_diffusion train --dataset shapes --seed 0 --learning-rate 5e-4 > train.log 2> train.err
echo "== evaluate $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 256 --guidance 3 --sampler dpmpp-2m-sde --steps 32 --spacing logsnr --json g3_dpmpp-2m-sde_32_logsnr.json 2>&1 | grep -E "^prompt_adherence|FD ratio"
for step in 003000 004500; do
  echo "== checkpoint $step $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
  python -m keras_simple_diffusion evaluate --checkpoint runs/latest/checkpoints/step_$step.keras --num-samples 256 --guidance 3 --sampler dpmpp-2m-sde --steps 32 --spacing logsnr --json ckpt_step$step.json 2>&1 | grep -E "^prompt_adherence |^prompt_adherence_position|^prompt_adherence_unguided "
done
echo "== done $(date -u +%H:%M:%S)"
