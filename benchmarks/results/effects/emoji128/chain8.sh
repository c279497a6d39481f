#!/bin/bash
# After this stop's CI: dropout at 16 x 16 and below at 128 px, seed 0, alone (seed 1 left for a later session).
cd /work/r60
while pgrep -f "ci_after.sh" > /dev/null; do sleep 5; done
bash emoji128/run.sh dropout-low-res 0 16 > emoji128/chain_dropout-low-res_s0.log 2>&1
