#!/bin/bash
# After the guidance scan: seed 2 of the interpolated schedule, scored at the model's own 1.5
# and at 1 on (-2, 2.5); then the emoji rows (/work/r50/emoji24/run.sh).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s50 KERAS_BACKEND=tensorflow
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/r50/fashion_interp
./run.sh 2
run=$(ls -d runs_s2/2026*/)
echo "== seed 2 guidance 1 start $(date -u +%H:%M:%S)"
simple-diffusion evaluate --checkpoint $run --guidance 1 --guidance-interval -2 2.5 --json eval_s2_g1.json > eval_s2_g1.log 2>&1
echo "== done $(date -u +%H:%M:%S) rc=$?"
/work/r50/emoji24/run.sh 999999
