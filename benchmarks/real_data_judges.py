"""The judges of the real data sets, tried on real images and on spoiled ones.

Fashion-MNIST: real test images and uniform noise scored as samples by
`assessment.score_samples` (the classifier learns the training split and is
read on the test split). Emoji: real emoji scored as samples of their own
names by `retrieval.evaluate_captioned_samples`, then the same images with
Gaussian noise, drawn at a quarter of the size and enlarged, and with
shuffled names. A judge must score the real images near 1 and each spoiled
set far from it, in the space that should see the damage.

    python -m benchmarks.real_data_judges --out benchmarks/results/real_data_judges.json
"""

import argparse
import os
import sys

from benchmarks import common

DEFAULT_OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "results", "real_data_judges.json"
)


def fashion_rows(num_samples, seed):
    import numpy as np

    from keras_simple_diffusion.training.assessment import reference_data, score_samples

    real, held_out, info = reference_data("fashion", 32, None, None, max_real=10_000)
    test_images, test_labels = held_out
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, test_images[:num_samples].shape)
    labels = test_labels[:num_samples]
    return {
        "real test images": score_samples(
            test_images[:num_samples], labels, "fashion", real, held_out, info
        ),
        "uniform noise": score_samples(noise, labels, "fashion", real, held_out, info),
    }


def emoji_rows(image_size, seed):
    import numpy as np
    import tensorflow as tf

    from keras_simple_diffusion.data import load_dataset
    from keras_simple_diffusion.evaluation.retrieval import evaluate_captioned_samples

    images = load_dataset("emoji", image_size=image_size, shuffle=False).images
    indices = np.arange(0, len(images), 3)
    rng = np.random.default_rng(seed)
    small = load_dataset("emoji", image_size=image_size // 4, shuffle=False).images
    spoiled = {
        "real emoji": images[indices],
        "Gaussian noise, std 0.2": np.clip(
            images[indices] + rng.normal(0.0, 0.2, images[indices].shape), -1.0, 1.0
        ),
        f"drawn at {image_size // 4} px, enlarged": tf.image.resize(
            small, (image_size, image_size)
        ).numpy()[indices],
        "shuffled names": images[rng.permutation(len(images))[: len(indices)]],
    }
    return {
        name: evaluate_captioned_samples(samples, indices, images, seed=seed)
        for name, samples in spoiled.items()
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-samples", type=int, default=500)
    parser.add_argument("--emoji-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from keras_simple_diffusion import files

    load_start = os.getloadavg()
    result = dict(
        command="python -m benchmarks.real_data_judges " + " ".join(argv or sys.argv[1:]),
        fashion=fashion_rows(args.fashion_samples, args.seed),
        emoji=emoji_rows(args.emoji_size, args.seed),
        load_start=list(load_start),
        load_end=list(os.getloadavg()),
        machine=common.machine_info(),
    )
    files.write_json(args.out, result)
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
