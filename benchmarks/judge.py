"""The judge itself: held-out accuracy of the digits classifier at each image size.

The classifier that scores samples (`evaluation.train_classifier`) is
trained on 1197 real digits and tested on the other 600, with the default
filters (`evaluation.default_filters`) and with three stages, the default
at 32 px, for comparison. A judge that misreads real digits cannot grade
samples.

    python -m benchmarks.judge --sizes 32 64 128
"""

import argparse
import json
import os
import sys

from benchmarks import common

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "judge.json")


def held_out_accuracy(images, labels, filters, seed=0):
    import numpy as np

    from keras_simple_diffusion.evaluation import train_classifier

    order = np.random.default_rng(seed).permutation(len(images))
    train, test = order[:1197], order[1197:]
    classifier = train_classifier(images[train], labels[train], filters=filters, seed=seed)
    return float(np.mean(classifier.predict_labels(images[test]) == labels[test]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from keras_simple_diffusion.data import load_digits
    from keras_simple_diffusion.evaluation import default_filters

    three_stages = default_filters(32)
    rows = []
    for size in args.sizes:
        images, labels = load_digits(image_size=size)
        for filters in dict.fromkeys([three_stages, default_filters(size)]):
            accuracy = held_out_accuracy(images, labels, filters)
            rows.append(dict(image_size=size, filters=list(filters), accuracy=accuracy))
            print(f"{size} px, filters {filters}: held-out accuracy {accuracy:.1%}", flush=True)
    with open(args.out, "w") as file:
        json.dump(dict(rows=rows, machine=common.machine_info()), file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
