#!/bin/bash
# The emoji study's dropout and U-Net rows at 24 minutes, seeds 0 and 1,
# interleaved so that a drift in the machine's speed falls on both, alone.
cd /work/r65
for row in "dropout-low-res 0" "unet 0" "dropout-low-res 1" "unet 1"; do
  bash emoji24/run.sh $row
done
