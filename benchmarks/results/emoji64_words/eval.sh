#!/bin/bash
# The run's evaluations (run.sh's evaluate lines named a flag, --report, that
# evaluate does not have: run.sh was stopped during training and this took over).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s40 KERAS_BACKEND=tensorflow
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
while kill -0 7191 2>/dev/null; do sleep 15; done
cd /work/r40/emoji64_s0
for g in 1 3; do
  mkdir -p g$g
  stamp "evaluate guidance $g"
  /usr/bin/time -f "%e s %M KB" python -m keras_simple_diffusion evaluate --checkpoint runs/latest --num-samples 500 --guidance $g --json g$g/evaluation.json 2>&1 | grep -v "cuda\|absl\|I0000\|rebuild\|WARNING"
done
stamp "caption sensitivity"
python -m benchmarks.caption_sensitivity --checkpoint runs/latest --num-images 256 --out caption_sensitivity.json 2>&1 | grep -v "cuda\|absl\|I0000\|WARNING\|rebuild"
stamp "prompt grid"
python -m benchmarks.prompt_grid --checkpoint runs/latest --guidance 3 --out prompt_grid_g3.png 2>&1 | grep -v "cuda\|absl\|I0000\|WARNING\|rebuild"
stamp done
