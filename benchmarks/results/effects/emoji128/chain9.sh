#!/bin/bash
# The 128 px study's dropout and weighting rows, one at a time, alone; a row starts only while /work/r61/stop is absent.
cd /work/r60
for row in "dropout-low-res 1" "dropout-everywhere 0" "dropout-everywhere 1" "weighting-eps 0" "weighting-eps 1" "weighting-sigmoid 0" "weighting-sigmoid 1"; do
  [ -e /work/r61/stop ] && break
  set -- $row
  bash emoji128/run.sh $1 $2 16 > emoji128/chain_$1_s$2.log 2>&1
done
