#!/bin/bash
# Patching in place of the wavelet, the U-Net, dropout at 16 x 16 and below and the eps weighting at 128 px, seeds 0 and 1 each, one run at a time, alone, scored at 16 minutes.
cd /work/r60
for v in downsample-patch unet dropout-low-res weighting-eps; do
  for s in 0 1; do
    bash emoji128/run.sh $v $s 16 > emoji128/chain_${v}_s$s.log 2>&1
  done
done
