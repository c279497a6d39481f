#!/bin/bash
# Once the 128 px rescorings (../chain.sh) and the local CI have ended: the emoji study's
# loss-weighting (sigmoid) row at 24 minutes, seeds 0 and 1, one after the
# other, alone.
while kill -0 17240 2>/dev/null || [ ! -e /work/ci64.rc ]; do sleep 10; done
cd /work/r64
for row in "weighting-sigmoid 0" "weighting-sigmoid 1"; do
  bash emoji24/run.sh $row
done
