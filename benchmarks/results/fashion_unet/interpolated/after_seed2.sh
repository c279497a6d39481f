#!/bin/bash
# After seed 2 of the interpolated schedule: it scored at 1 on (-2, 2.5) as well; then the three
# default runs of the same recipe but for the schedule (one head, 4800 steps, noise_d 14; stop 47)
# scored at the same 1 on (-2, 2.5), to pair each schedule at each weight; then the emoji rows.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s50 KERAS_BACKEND=tensorflow
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/r50/fashion_interp
run=$(ls -d runs_s2/2026*/)
echo "== seed 2 guidance 1 start $(date -u +%H:%M:%S)"
simple-diffusion evaluate --checkpoint $run --guidance 1 --guidance-interval -2 2.5 --json eval_s2_g1.json > eval_s2_g1.log 2>&1
echo "== done $(date -u +%H:%M:%S) rc=$?"
for s in 0 1 2; do
  run=$(ls -d /work/r48/fashion/runs_s$s/2026*/)
  echo "== default schedule seed $s guidance 1 start $(date -u +%H:%M:%S) $run"
  simple-diffusion evaluate --checkpoint $run --guidance 1 --guidance-interval -2 2.5 --json default_s${s}_g1.json > default_s${s}_g1.log 2>&1
  echo "== done $(date -u +%H:%M:%S) rc=$?"
done
/work/r50/emoji24/run.sh 999999
