"""The real-vs-real references of the emoji evaluation on sampling seeds 0
and 1, with one draw of the real sets and with 16.

    python benchmarks/results/fd_reference/seed0_reference.py
"""

import json

from keras_simple_diffusion.data import load_dataset
from keras_simple_diffusion.evaluation.retrieval import distance_metrics

out = {}
for size in (64, 128):
    images = load_dataset("emoji", image_size=size, shuffle=False).images
    samples = images[:500]  # any 500 images: the real-vs-real figures do not depend on them
    for seed in (0, 1):
        for draws in (1, 16):
            m = distance_metrics(samples, images, seed, draws)
            out[f"{size}px seed {seed} draws {draws}"] = {
                k: m[k] for k in ("real_pixel_frechet_distance", "real_patch_frechet_distance")
            }
            print(size, seed, draws, out[f"{size}px seed {seed} draws {draws}"], flush=True)
json.dump(out, open("benchmarks/results/fd_reference/seed0_reference.json", "w"), indent=1)
