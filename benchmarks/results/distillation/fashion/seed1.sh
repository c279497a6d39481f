#!/bin/bash
# After the CI run: a second sampling seed for the teacher at the CLI's
# defaults and for the 8- and 4-step students (DDIM, their own steps),
# guidance 1, evaluate's 1000 samples; alone, from the frozen clone.
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s57 KERAS_BACKEND=tensorflow
cd /work/r57/fashion_distill
while [ ! -f /work/ci57.end ]; do sleep 5; done
echo "== start $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
python -m keras_simple_diffusion evaluate --checkpoint teacher/latest --seed 1 --json seed1_teacher_cli_default.json > seed1_teacher.log 2>&1
echo "== teacher $(date -u +%H:%M:%S)"
for r in round_4_8_steps round_5_4_steps; do
  python -m keras_simple_diffusion evaluate --checkpoint distill/latest/$r/model.keras --seed 1 --guidance 1 --json seed1_$r.json > seed1_$r.log 2>&1
  echo "== $r $(date -u +%H:%M:%S)"
done
