"""Ad-hoc: seconds a TensorFlow training step of a default run with Keras'
`steps_per_execution` and with `jit_compile` off (see the log beside it).

Run from a checkout: `python steps_per_execution.py DATASET IMAGE_SIZE
VARIANT WARMUP STEPS`, IMAGE_SIZE 0 for the run's own, VARIANT spe1, spe10
or nojit.
"""

import json
import sys
import time

import keras

from benchmarks.step_time import build_run


def main(dataset, image_size, variant, warmup, steps):
    _, diffusion, data, _ = build_run(dataset, image_size or None, "float32", None, 10**6)
    executions = int(variant[3:]) if variant.startswith("spe") else 1
    diffusion.compile(
        optimizer=diffusion.optimizer,
        jit_compile=variant != "nojit",
        steps_per_execution=executions,
    )

    def run(count):
        diffusion.fit(data, epochs=1, steps_per_epoch=count, shuffle=False, verbose=0)
        keras.ops.convert_to_numpy(diffusion.optimizer.iterations)

    start = time.perf_counter()
    run(warmup)
    warm = time.perf_counter()
    run(steps)
    end = time.perf_counter()
    record = dict(dataset=dataset, variant=variant, warmup_s=warm - start)
    print(json.dumps(dict(record, s_per_step=(end - warm) / steps, steps=steps)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
