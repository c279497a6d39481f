"""torch.compile on the sampler's network call, eager PyTorch beside it.

The default digits model (`uvit-digits`, untrained: timing only) called as
`generate` calls it (`training=False`, under `torch.no_grad()`), at batch 1
and 16: compile time of the first call, then the median of 20 calls each
way, and the largest difference between their outputs.

    KERAS_BACKEND=torch python benchmarks/results/profile/torch_compile_sampling.py
"""

import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402

from keras_simple_diffusion.models.presets import build_denoiser  # noqa: E402

network = build_denoiser("uvit-digits", num_classes=10)
for batch in (1, 16):
    inputs = {
        "images": torch.randn((batch, 32, 32, 1)),
        "noise_level": torch.zeros((batch,)),
        "class_labels": torch.zeros((batch,), dtype=torch.int32),
    }

    def call(inputs=inputs):
        return network(inputs, training=False)

    compiled = torch.compile(call, dynamic=False)
    with torch.no_grad():
        start = time.perf_counter()
        difference = float((compiled() - call()).abs().max())
        compile_s = time.perf_counter() - start
        medians = {}
        for name, function in (("eager", call), ("torch.compile", compiled)):
            for _ in range(3):
                function()
            times = []
            for _ in range(20):
                start = time.perf_counter()
                function()
                times.append(time.perf_counter() - start)
            medians[name] = 1e3 * statistics.median(times)
    print(
        f"batch {batch}: eager {medians['eager']:.1f} ms a call, torch.compile "
        f"{medians['torch.compile']:.1f} ms after {compile_s:.0f} s of compiling; "
        f"largest output difference {difference:.1e}"
    )
