"""`simple-diffusion train --dataset fashion --steps STEPS --seed SEED` with
the default `unet-fashion`'s attention at the bottom level only (no CLI flag
for it; the interpolated schedule and every other setting at the default).

    python train.py STEPS SEED RUNS_DIR
"""

import sys

from keras_simple_diffusion.training import trainer
from keras_simple_diffusion.training.config import TrainConfig

steps, seed, runs_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
config = TrainConfig(
    dataset="fashion",
    model_options={"attention_max_resolution": 8},
    steps=steps,
    seed=seed,
    verbose=0,
)
trainer.train(config, runs_root=runs_dir)
