#!/bin/bash
# After the emoji shift row: where the Fashion-MNIST U-Net's training step goes on JAX (4.4x TensorFlow's time),
# then .ci/run on a clean clone of main, then the study's no-downsampling row, seed 1, for its time and
# memory (trained, not scored).
source /work/venv/bin/activate
while pgrep -f run_rows.sh > /dev/null; do sleep 10; done
cd /work/frozen/s53b
export PYTHONPATH=/work/frozen/s53b
echo "== profile start $(date -u +%H:%M:%S) $(git log --oneline | head -1)"
python -m benchmarks.profile_step --dataset fashion --backends jax,tensorflow --steps 10 --name fashion_unet --out /work/r53/after/profile 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING" | tail -40
echo "== step_time start $(date -u +%H:%M:%S)"
python -m benchmarks.step_time --dataset fashion --backends jax --xla-flags ';--xla_cpu_experimental_ynn_fusion_type=' --steps 30 --warmup 5 --repeats 2 --name fashion_unet_jax_ynn --out /work/r53/after/step 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING" | tail -12
unset PYTHONPATH
echo "== ci start $(date -u +%H:%M:%S)"
rm -rf /work/ci53 && git clone -q /work/main /work/ci53 && cd /work/ci53 && git log --oneline | head -1 && bash .ci/run > /work/r53/ci.log 2>&1; echo "rc=$?" >> /work/r53/ci.log
echo "== ci done $(date -u +%H:%M:%S) $(tail -1 /work/r53/ci.log)"
cd /work/frozen/s53b
export PYTHONPATH=/work/frozen/s53b
echo "== downsample-none seed 1 start $(date -u +%H:%M:%S)"
KERAS_BACKEND=tensorflow python -m benchmarks.effects --study emoji64 --variants downsample-none --seeds 1 --budget-min 12 --every-min 12 --eval-samples 0 --out /work/r53/emoji24/out_none 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== chain done $(date -u +%H:%M:%S)"
