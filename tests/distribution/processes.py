"""Multi-process training scenarios: `python processes.py NAME OUT_DIR`.

Each process of a run (torchrun's, or one started per JAX process / TF
worker by the test with its environment) trains the tiny model of
`scenarios.py` on the same global batches and writes
`OUT_DIR/<NAME>-<process>.json`: its per-step losses, and what the test
checks of its variables. `*_reference` scenarios are the one-process runs
the multi-process ones must match.
"""

import json
import os
import sys

import numpy as np
from scenarios import BATCH, _data, _model, _StepLosses

STEPS = 5


def _dataset(steps=STEPS):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(_data(steps * BATCH)).batch(BATCH)


def _train(model, dataset, steps=STEPS):
    record = _StepLosses()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[record.callback])
    return record.losses


def _digest(variables):
    """A few numbers per variable: equal digests mean equal variables to
    float32 precision, across processes and runs."""
    import keras

    return {
        v.path: [float(np.sum(a)), float(np.sum(a * a))]
        for v in variables
        for a in [keras.ops.convert_to_numpy(v).astype("float64")]
    }


def torch_processes():
    """One rank of a torchrun launch: different initial weights and seeds per
    rank (the broadcast from rank 0 must make them equal), one step
    (`STEPS` env) of its share of each global batch."""
    from keras_simple_diffusion import distribution

    steps = int(os.environ.get("STEPS", "1"))
    context = distribution.configure_distribution("data")
    model = _model(seed=context.process_index, jit_compile=False)
    context.prepare(model)
    losses = _train(model, context.shard_dataset(_dataset(steps), BATCH), steps)
    return dict(
        process=context.process_index,
        processes=context.num_processes,
        losses=losses,
        weights=_digest(model.trainable_variables + model.optimizer.variables),
    )


def torch_reference():
    """One process doing by hand what two ranks do in `STEPS` steps: each
    half of the global batch with that rank's noise (the rank folded into the
    seed), the two gradients averaged, one optimizer update per step."""
    import keras
    import torch

    from keras_simple_diffusion import backend, distribution

    steps = int(os.environ.get("STEPS", "1"))
    model = _model(seed=0, jit_compile=False)
    distribution.make_replica_aware(model)
    initial = _digest(model.trainable_variables)
    images = _data(steps * BATCH)
    generators = list(distribution._seed_generators(model))
    for step in range(steps):
        start = [g.state.value.clone() for g in generators]
        total = None
        for rank in (0, 1):
            for generator, state in zip(generators, start):
                generator.state.assign(state)
            backend._torch_rank_and_world = lambda rank=rank: (rank, 2)
            model.zero_grad()
            first = step * BATCH + rank * BATCH // 2
            half = keras.ops.convert_to_tensor(images[first : first + BATCH // 2])
            model.compute_loss(x=half, training=True).backward()
            grads = [v.value.grad.clone() for v in model.trainable_variables]
            total = grads if total is None else [a + b for a, b in zip(total, grads)]
        with torch.no_grad():
            model.optimizer.apply([g / 2 for g in total], model.trainable_variables)
    return dict(
        initial=initial, weights=_digest(model.trainable_variables + model.optimizer.variables)
    )


def _jax_start():
    """Joins the JAX processes of the test (2 CPU devices each, gloo
    collectives), before anything touches a device."""
    from keras_simple_diffusion import distribution

    distribution.initialize(
        os.environ["COORDINATOR"], int(os.environ["PROCESSES"]), int(os.environ["PROCESS"])
    )


def _jax_runs():
    """DataParallel over all devices, then ModelParallel on a 1 x 4 mesh
    (batch x model): per-step losses, and each process' part of the
    model-parallel kernels."""
    import keras

    from keras_simple_diffusion import distribution

    result = {}
    # 1 x 4: the model axis spans both processes' devices, so each process
    # holds half of every sharded kernel (4 heads: the heads split 4 ways).
    for kind, mesh in (("data", None), ("model", "1x4")):
        context = distribution.configure_distribution(kind, mesh, widths=(16,))
        with context.scope():
            model = _model(num_heads=4)
        context.prepare(model)
        result[kind] = _train(model, _dataset())
        keras.distribution.set_distribution(None)
    kernel = model.denoiser.get_layer("transformer_0").mlp_hidden.kernel.value
    result["kernel_shape"] = list(kernel.shape)
    result["kernel_local_shards"] = [list(s.data.shape) for s in kernel.addressable_shards]
    result["kernel_local_columns"] = sorted(
        {
            (s.index[1].start or 0, s.index[1].stop or kernel.shape[1])
            for s in kernel.addressable_shards
        }
    )
    result["devices"] = len(keras.distribution.list_devices())
    return result


def jax_processes():
    _jax_start()
    import jax

    return dict(process=jax.process_index(), **_jax_runs())


def jax_reference():
    return _jax_runs()


def _tf_runs():
    from keras_simple_diffusion import distribution

    context = distribution.configure_distribution("data")
    with context.scope():
        model = _model(jit_compile=context.jit_compile)
    context.prepare(model)
    return dict(
        strategy=type(context.strategy).__name__,
        replicas=context.num_replicas,
        process=context.process_index,
        losses=_train(model, _dataset()),
    )


def tf_processes():
    """One worker of the TF_CONFIG cluster the test set up."""
    from keras_simple_diffusion import distribution

    distribution.initialize()
    return _tf_runs()


def tf_reference():
    """MirroredStrategy over 2 logical CPUs in one process: the replicas of
    the two workers, in one process."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    return _tf_runs()


if __name__ == "__main__":
    name, out = sys.argv[1], sys.argv[2]
    result = globals()[name]()
    path = os.path.join(out, f"{name}-{result.get('process', 0)}.json")
    with open(path, "w") as file:
        json.dump(result, file)
