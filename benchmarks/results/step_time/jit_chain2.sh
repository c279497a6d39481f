#!/bin/bash
# After jit_chain.sh: the digits' larger images, XLA against none; alone.
while pgrep -f jit_chain.sh > /dev/null; do sleep 5; done
source /work/venv/bin/activate
cd /work/frozen/s54b
export KERAS_BACKEND=tensorflow
OUT=/work/r54/step_time
python -m benchmarks.step_time --backends tensorflow --jit-compile auto,false --dataset digits --image-size 64 --warmup 5 --steps 20 --repeats 2 --name digits64_jit --out $OUT
python -m benchmarks.step_time --backends tensorflow --jit-compile auto,false --dataset digits --image-size 128 --warmup 3 --steps 8 --repeats 2 --name digits128_jit --out $OUT
