"""`simple-diffusion train --dataset fashion --model unet-digits --steps STEPS
--seed SEED` with attention only at the bottom level (no CLI flag for it).

    python train.py STEPS SEED RUNS_DIR
"""

import sys

from keras_simple_diffusion.training import trainer
from keras_simple_diffusion.training.config import TrainConfig

steps, seed, runs_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
config = TrainConfig(
    dataset="fashion",
    model="unet-digits",
    model_options={"attention_max_resolution": 8},
    steps=steps,
    seed=seed,
    verbose=0,
)
trainer.train(config, runs_root=runs_dir)
