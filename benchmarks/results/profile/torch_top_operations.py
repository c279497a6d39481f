"""The aten operations of the sampler's network call on eager PyTorch, by
self time: the default digits model (`uvit-digits`, untrained: timing
only), batch 64, 5 calls under `torch.profiler` after 3 warm-up calls.

    KERAS_BACKEND=torch python benchmarks/results/profile/torch_top_operations.py
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402

from keras_simple_diffusion.models.presets import build_denoiser  # noqa: E402

BATCH = 64
network = build_denoiser("uvit-digits", num_classes=10)
inputs = {
    "images": torch.randn((BATCH, 32, 32, 1)),
    "noise_level": torch.zeros((BATCH,)),
    "class_labels": torch.zeros((BATCH,), dtype=torch.int32),
}
with torch.no_grad():
    for _ in range(3):
        network(inputs, training=False)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        for _ in range(5):
            network(inputs, training=False)
print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
