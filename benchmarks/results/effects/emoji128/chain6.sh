#!/bin/bash
# After the U-Net's seed 0 (chain5.sh, stopped there): its seed 1, then patching's seed 0 again alone. Its first run had
# about 5 minutes of niced unit tests beside it and made 387 of its 489 planned steps (seed 1, alone: 463 of 503); set aside.
cd /work/r60
while kill -0 3133 2>/dev/null; do sleep 10; done
bash emoji128/run.sh unet 1 16 > emoji128/chain_unet_s1.log 2>&1
mkdir -p /work/r60/set_aside && mv /work/r58/emoji128/out/emoji128/downsample-patch-s0 /work/r60/set_aside/downsample-patch-s0_loaded
bash emoji128/run.sh downsample-patch 0 16 > emoji128/chain_downsample-patch_s0_alone.log 2>&1
