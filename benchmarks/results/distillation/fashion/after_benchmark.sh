#!/bin/bash
# After the distillation benchmark (pid 23578): the teacher at the CLI's
# default sampling, then the emoji study's single-scale-loss row at 24
# minutes on seeds 0 and 1; one after another, alone.
cd /work/r57
while kill -0 23578 2>/dev/null; do sleep 5; done
echo "== benchmark done $(date -u +%H:%M:%S)" >> fashion_distill/chain.log
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s57 KERAS_BACKEND=tensorflow
(cd fashion_distill && python -m keras_simple_diffusion evaluate --checkpoint teacher/latest --json teacher_cli_default.json > teacher_cli_default.log 2>&1)
echo "== teacher at the CLI default scored $(date -u +%H:%M:%S)" >> fashion_distill/chain.log
bash emoji24/run.sh single-scale-loss 0 > emoji24/chain_ss0.log 2>&1
bash emoji24/run.sh single-scale-loss 1 > emoji24/chain_ss1.log 2>&1
