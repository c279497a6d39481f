#!/bin/bash
# The seed-1 run's evaluation at the CLI's defaults, after the CI run (run.sh's
# own evaluate line was stopped so that CI ran alone).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s43e KERAS_BACKEND=tensorflow
while pgrep -f "r43/ci.sh" > /dev/null; do sleep 10; done
cd /work/r43/emoji64_s1
mkdir -p g1
echo "== evaluate guidance 1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
/usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance 1 --json g1/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
echo "== done $(date -u +%H:%M:%S)"
