#!/bin/bash
# The emoji study's first rows at 128 px: the shifted base against no shift, seeds 0 and 1 interleaved, one run at a time, alone.
cd /work/r58
for s in 0 1; do
  for v in base no-shift; do
    bash emoji128/run.sh $v $s > emoji128/chain_${v}_s$s.log 2>&1
  done
done
