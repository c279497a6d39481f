#!/bin/bash
# Prompt adherence of each text seed's EMA checkpoints at 3000 and 4500 steps (the final 6000 is the run's model).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s37 KERAS_BACKEND=tensorflow
for seed in 0 1; do for step in 003000 004500; do
  cd /work/r37/text_s$seed
  echo "== seed $seed step $step $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
  python -m keras_simple_diffusion evaluate --checkpoint runs/latest/checkpoints/step_$step.keras --num-samples 256 --guidance 3 --sampler dpmpp-2m-sde --steps 32 --spacing logsnr --json ckpt_step$step.json 2>&1 | grep -E "^prompt_adherence |^prompt_adherence_position|^prompt_adherence_unguided "
done; done
echo "== done $(date -u +%H:%M:%S)"
