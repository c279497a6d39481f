#!/bin/bash
# After the study's single-scale-loss seed 1 at 128 px (PID given), the plain-loss default run at 128 px.
while kill -0 $1 2>/dev/null; do sleep 10; done
bash /work/r59/emoji128_single_s1/run.sh
