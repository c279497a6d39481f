#!/bin/bash
# The default U-Net runs (4000 steps, seeds 0 and 1) scored at guidance 2
# on logSNR [-2, 2.5], the U-ViT's best classifier-space setting on 500 samples in fashion_guidance_interval/;
# every other flag at `evaluate`'s default (1000 samples, sampling seed 0).
source /work/venv/bin/activate
export PYTHONPATH=/work/frozen/s45 KERAS_BACKEND=tensorflow
cd /work/r46/fashion/unet4000
for seed in 0 1; do
  run=$(ls -dt runs_s$seed/*/ | grep -v latest | head -1)
  simple-diffusion evaluate --checkpoint $run --guidance 2 --guidance-interval -2 2.5 --json guidance/s${seed}_g2_i-2,2.5/evaluation.json > /dev/null 2>&1
  python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(sys.argv[1], '%.3f %.2f %.2f' % (m['class_accuracy'], m['fd_ratio'], m['pixel_fd_ratio']))" guidance/s${seed}_g2_i-2,2.5/evaluation.json
done
