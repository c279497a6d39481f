"""Distributed training scenarios, each run in a fresh process.

`python tests/distribution/scenarios.py NAME` prints one JSON line
(prefixed "RESULT ") with what the tests check. A fresh process is needed
because the number of devices is fixed when JAX / TensorFlow initialise:
the caller sets KERAS_BACKEND and XLA_FLAGS (JAX); the TensorFlow scenario
splits the CPU into logical devices itself, before TF initialises.
"""

import json
import sys

import numpy as np

STEPS = 6
BATCH = 16


def _data(n=STEPS * BATCH, seed=0):
    # Smooth random blobs in [-1, 1], 32 x 32 x 1: cheap and learnable.
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, 32)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    centres = rng.uniform(-0.6, 0.6, size=(n, 2))
    radius = rng.uniform(0.2, 0.5, size=(n, 1, 1))
    d2 = (xx[None] - centres[:, 0, None, None]) ** 2 + (yy[None] - centres[:, 1, None, None]) ** 2
    return (2.0 * np.exp(-d2 / radius**2) - 1.0).astype("float32")[..., None]


def _model(seed=0, jit_compile=True, **overrides):
    import keras

    import keras_simple_diffusion as ksd

    keras.utils.set_random_seed(seed)
    denoiser = ksd.build_denoiser("uvit-tiny", **overrides)
    model = ksd.SimpleDiffusion(denoiser, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    return model


class _StepLosses:
    def __init__(self):
        import keras

        losses = self.losses = []

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                losses.append(float(logs["loss"]))

        self.callback = Callback()


def _fit(model, x):
    record = _StepLosses()
    model.fit(x, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[record.callback])
    return record.losses


def jax_data():
    import keras

    from keras_simple_diffusion import distribution

    context = distribution.configure_distribution("data")
    with context.scope():
        model = _model()
    context.prepare(model)
    losses = _fit(model, _data())
    kernel = model.denoiser.get_layer("transformer_0").mlp_hidden.kernel
    return dict(
        devices=len(keras.distribution.list_devices()),
        mesh=list(context.mesh),
        losses=losses,
        kernel_spec=[str(a) for a in kernel.value.sharding.spec],
        kernel_devices=len(kernel.value.sharding.device_set),
    )


def jax_model():
    import keras

    from keras_simple_diffusion import distribution

    x = _data()
    single = _fit(_model(), x)

    context = distribution.configure_distribution("model", "4x2", widths=(16,))
    with context.scope():
        model = _model()
    context.prepare(model)
    losses = _fit(model, x)
    specs = {
        v.path: [None if a is None else str(a) for a in v.value.sharding.spec]
        for v in model.weights
        if hasattr(v.value, "sharding")
    }
    shard_shapes = {
        v.path: list(v.value.addressable_shards[0].data.shape) for v in model.trainable_weights
    }
    keras.distribution.set_distribution(None)
    return dict(
        devices=len(keras.distribution.list_devices()),
        mesh=list(context.mesh),
        single_losses=single,
        losses=losses,
        specs=specs,
        shard_shapes=shard_shapes,
        planned=sorted(distribution.check_layout(model, context.distribution._layout_map)),
    )


def tf_mirrored():
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from keras_simple_diffusion import distribution

    context = distribution.configure_distribution("data")
    strategy = context.strategy
    with context.scope():
        model = _model(jit_compile=context.jit_compile)

    x = _data(BATCH)
    same = tf.constant(x[: BATCH // 2])

    def make_step():
        # A fresh tf.function each time: a traced graph keeps the seed
        # generators it was traced with, so `prepare` must precede tracing.
        @tf.function
        def per_replica_losses():
            def step():
                # The real training loss, on the same images on every
                # replica: it differs between replicas only if t and eps do.
                return model.compute_loss(x=same, training=True)

            return strategy.run(step)

        return per_replica_losses

    def local(values):
        return [float(v.numpy()) for v in strategy.experimental_local_results(values)]

    # Same seed states, same images: the loss outside the strategy against
    # each replica's, which Keras' TF trainer sums over the replicas.
    generators = list(distribution._seed_generators(model))
    states = [g.state.numpy() for g in generators]
    before = local(make_step()())
    for generator, state in zip(generators, states):
        generator.state.assign(state)
    unscaled = float(tf.function(lambda: model.compute_loss(x=same, training=True))().numpy())
    context.prepare(model)
    changed = sum(
        isinstance(g, distribution.ReplicaSeedGenerator)
        for g in distribution._seed_generators(model)
    )
    per_replica_losses = make_step()
    after = local(per_replica_losses())
    after_2 = local(per_replica_losses())
    losses = _fit(model, _data())
    return dict(
        replicas=strategy.num_replicas_in_sync,
        strategy=type(strategy).__name__,
        before_fix=before,
        after_fix=after,
        after_fix_2=after_2,
        losses=losses,
        changed=changed,
        unscaled=unscaled,
        keras=keras.__version__,
    )


if __name__ == "__main__":
    name = sys.argv[1]
    result = globals()[name]()
    print("RESULT " + json.dumps(result), flush=True)
