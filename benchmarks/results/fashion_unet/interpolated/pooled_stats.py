"""Where the pooled-pixel FD of a Fashion-MNIST run comes from: the mean term
against the covariance term, and the samples' brightness and contrast
against the test split's. Samples drawn as `evaluate` draws them."""

import json
import sys

import keras
import numpy as np
from scipy import linalg

from keras_simple_diffusion.data import load_dataset
from keras_simple_diffusion.evaluation.evaluate import pooled_pixels


def fd_terms(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum()), float(np.trace(cov_a + cov_b - 2 * root))


test = load_dataset("fashion:test", image_size=28, batch_size=1, shuffle=False)
train = load_dataset("fashion", image_size=28, batch_size=1, shuffle=False)
real, real_labels = test.images, test.labels
other = train.images[:1000]
out = {}
for path in sys.argv[1:]:
    model = keras.saving.load_model(path)
    labels = np.arange(1000) % model.num_classes
    samples = keras.ops.convert_to_numpy(model.generate(labels=labels, num_images=1000, seed=0))
    row = {}
    for name, images in (("samples", samples), ("train", other)):
        mean_term, cov_term = fd_terms(pooled_pixels(images), pooled_pixels(real))
        row[name] = dict(
            pooled_fd_mean_term=mean_term,
            pooled_fd_cov_term=cov_term,
            mean=float(images.mean()),
            std=float(images.std()),
            per_image_std_mean=float(images.reshape(len(images), -1).std(1).mean()),
            fraction_below_minus_0_9=float((images < -0.9).mean()),
        )
    row["test"] = dict(
        mean=float(real.mean()),
        std=float(real.std()),
        per_image_std_mean=float(real.reshape(len(real), -1).std(1).mean()),
        fraction_below_minus_0_9=float((real < -0.9).mean()),
    )
    class_means = [
        (float(samples[labels == c].mean()), float(real[real_labels == c].mean()))
        for c in range(10)
    ]
    row["class_mean_samples_vs_test"] = class_means
    out[path] = row
    print(path, json.dumps(row, indent=1), flush=True)
json.dump(out, open("pooled_stats.json", "w"), indent=1)
