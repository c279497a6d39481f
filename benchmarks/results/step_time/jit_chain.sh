#!/bin/bash
# TensorFlow's step with XLA (the default, "auto") against without, on each default run; alone.
source /work/venv/bin/activate
cd /work/frozen/s54b
export KERAS_BACKEND=tensorflow
OUT=/work/r54/step_time
python -m benchmarks.step_time --backends tensorflow --jit-compile auto,false --dataset emoji --image-size 64 --warmup 5 --steps 20 --repeats 2 --name emoji64_jit --out $OUT
python -m benchmarks.step_time --backends tensorflow --jit-compile auto,false --dataset fashion --warmup 20 --steps 100 --repeats 2 --name fashion_jit --out $OUT
python -m benchmarks.step_time --backends tensorflow --jit-compile auto,false --dataset digits --warmup 20 --steps 100 --repeats 2 --name digits32_jit --out $OUT
python -m benchmarks.step_time --backends tensorflow --jit-compile auto,false --dataset emoji --image-size 128 --warmup 3 --steps 6 --repeats 2 --name emoji128_jit --out $OUT
