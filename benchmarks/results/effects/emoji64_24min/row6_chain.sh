#!/bin/bash
# The emoji study's single-scale-loss row at 24 minutes on seeds 0 and 1,
# one after the other, alone (restarted: house tests ran beside the first
# start's calibration).
cd /work/r57
bash emoji24/run.sh single-scale-loss 0 > emoji24/chain_ss0.log 2>&1
bash emoji24/run.sh single-scale-loss 1 > emoji24/chain_ss1.log 2>&1
