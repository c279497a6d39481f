#!/bin/bash
# The emoji run's training step on a quiet machine, after the run and its
# evaluations: the byte-level encoder (f048905) against hashed words (f040148).
source /work/venv/bin/activate
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
until grep -q "== done" /work/r40/chain.log; do sleep 15; done
sleep 20
for clone in s40b s40; do
  cd /work/frozen/$clone
  stamp "step time $clone ($(git rev-parse --short HEAD))"
  PYTHONPATH=/work/frozen/$clone python -m benchmarks.step_time --backends tensorflow --dataset emoji --image-size 64 --warmup 10 --steps 20 --repeats 2 --name emoji64_$clone --out /work/r40/step_time 2>&1 | grep -v "cuda\|absl\|I0000\|WARNING\|rebuild"
done
stamp done
