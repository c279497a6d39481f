#!/bin/bash
# Timings on a quiet machine, after the emoji run and its evaluations; frozen clone /work/frozen/s38b.
source /work/venv/bin/activate
cd /work/frozen/s38b
export PYTHONPATH=/work/frozen/s38b
OUT=/work/r38/step_time
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
until grep -q "== done" /work/r38/eval.log; do sleep 15; done
sleep 20
stamp "digits: backends x precisions ($(git rev-parse --short HEAD))"
python -m benchmarks.step_time --backends tensorflow,jax,torch --precisions float32,bfloat16 --steps 30 --repeats 2 --name digits32_precision --out $OUT 2>&1 | tail -12
stamp "sampling by batch"
python -m benchmarks.step_time --backends tensorflow,jax,torch --steps 5 --repeats 1 --sample-batches 1,16,256 --name digits32_sampling --out $OUT 2>&1 | tail -16
stamp "jax XLA flags"
python -m benchmarks.step_time --backends jax --steps 30 --repeats 2 --xla-flags ";--xla_cpu_use_onednn=true;--xla_cpu_experimental_onednn_custom_call=true;--xla_cpu_use_xnnpack=true" --name digits32_jax_xla_flags --out $OUT 2>&1 | tail -10
stamp "emoji 64 presets"
python -m benchmarks.step_time --dataset emoji --image-size 64 --backends tensorflow --steps 20 --repeats 2 --name emoji64 --out $OUT 2>&1 | tail -5
python -m benchmarks.step_time --dataset emoji --image-size 64 --model uvit-shapes-text-64 --backends tensorflow --steps 20 --repeats 1 --name emoji64_shapes_preset --out $OUT 2>&1 | tail -5
stamp "emoji 128"
python -m benchmarks.step_time --dataset emoji --image-size 128 --backends tensorflow --steps 10 --repeats 1 --name emoji128 --out $OUT 2>&1 | tail -5
stamp done
