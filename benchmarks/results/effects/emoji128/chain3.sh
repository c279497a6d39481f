#!/bin/bash
# The interpolated schedule at 128 px, seeds 0 and 1, alone (after the base and no-shift rows; a U-Net row at 64 px was started and stopped after two minutes for it).
cd /work/r58
for s in 0 1; do
  bash emoji128/run.sh interpolated $s > emoji128/chain_interpolated_s$s.log 2>&1
done
