#!/bin/bash
# After the interpolated-schedule runs: each scored again at lower guidance weights on the same
# interval (-2, 2.5), sampling seed 0, 1000 samples, as evaluate's defaults otherwise.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s50 KERAS_BACKEND=tensorflow
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/r50/fashion_interp
for s in 0 1; do
  run=$(ls -d runs_s$s/2026*/)
  for w in 1 0.5; do
    echo "== seed $s guidance $w start $(date -u +%H:%M:%S)"
    simple-diffusion evaluate --checkpoint $run --guidance $w --guidance-interval -2 2.5 --json eval_s${s}_g$w.json > eval_s${s}_g$w.log 2>&1
    echo "== done $(date -u +%H:%M:%S) rc=$?"
  done
done
