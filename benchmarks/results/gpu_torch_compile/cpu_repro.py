"""Does torch.compile train a multiscale U-ViT on the CPU, as on the GPU run?

python cpu_repro.py POLICY IMAGE_SIZE DROPOUT   # e.g. mixed_bfloat16 64 0.1
"""

import os
import sys
import time

os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch._dynamo  # noqa: E402

import keras_simple_diffusion as ksd  # noqa: E402

policy, size, dropout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
keras.mixed_precision.set_global_policy(policy)
torch._dynamo.config.automatic_dynamic_shapes = False
denoiser = ksd.build_denoiser("uvit-tiny", image_size=size, num_classes=None, dropout=dropout)
model = ksd.SimpleDiffusion(denoiser, seed=0)
model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=True)
x = np.random.RandomState(0).uniform(-1, 1, (8, size, size, 1)).astype("float32")
start = time.time()
label = f"{policy} {size} {dropout} multiscale {model.multiscale}"
try:
    history = model.fit(x, batch_size=4, epochs=1, verbose=0)
    print(label, "ok", history.history["loss"], f"{time.time() - start:.0f} s")
except Exception as error:  # noqa: BLE001
    print(label, "FAILED", type(error).__name__, str(error)[:400])
