#!/bin/bash
# The multiscale loss, dropout at 16 x 16 and below, and the U-Net at 128 px, seeds 0 and 1 each, one run at a time, alone.
# Stopped after the multiscale row (the plain loss, both seeds): the default 128 px run with the plain loss took the machine next
# (../../emoji128/plain_loss_s1/).
cd /work/r59
for v in single-scale-loss dropout-low-res unet; do
  for s in 0 1; do
    bash emoji128/run.sh $v $s 16 > emoji128/chain_${v}_s$s.log 2>&1
  done
done
