"""Everything that differs between the Keras backends.

Every check of `keras.config.backend()` that changes what the package does,
and every import of `jax`, `tensorflow` or `torch` but TensorFlow's as a
library (see below), lives in this module:

- `compile_inference`: compiled sampling (`jax.jit`, `tf.function`, torch
  eager under `no_grad`);
- `scale_loss_for_replicas`: the per-replica loss scaling of Keras' TF
  trainer under `tf.distribute`;
- `default_jit_compile`: XLA by default on TensorFlow, Keras' "auto" elsewhere;
- `distribution_engine`, `distribution_devices`, `tf_distribute_strategy`:
  which engine distributes training (`keras.distribution` on JAX,
  `tf.distribute` on TensorFlow, none on PyTorch with Keras 3.15), over
  which devices;
- `fold_in_replica_id`: per-replica random streams under `tf.distribute`.

Not branches, so not here: TensorFlow used as a library that runs the same
whatever backend trains the model -- the `tf.data` input pipeline (data/),
the text tokeniser's string ops (text.py), TensorBoard event files -- and
code that only reports the backend's name (the CLI, assessment records).
"""

import functools
import itertools

import keras

KERAS_DISTRIBUTION = "keras.distribution"
TF_DISTRIBUTE = "tf.distribute"


def compile_inference(model, function, jit_compile=True):
    """Wraps `function(*tensors)`, which reads `model`'s variables, for fast
    repeated inference on the active backend.

    - JAX: `jax.jit` with the model state passed in explicitly (through a
      `StatelessScope`), so the compiled function sees the current weights
      instead of baking them in as constants.
    - TensorFlow: `tf.function` (XLA with `jit_compile=True`).
    - PyTorch: eager under `torch.no_grad()`.
    """
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        @jax.jit
        def compiled(state, *args):
            trainable, non_trainable = state
            mapping = itertools.chain(
                zip(model.trainable_variables, trainable),
                zip(model.non_trainable_variables, non_trainable),
            )
            with keras.StatelessScope(state_mapping=mapping):
                return function(*args)

        @functools.wraps(function)
        def wrapped(*args):
            state = (
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
            )
            return compiled(state, *args)

        return wrapped
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=jit_compile, reduce_retracing=True)
    if backend == "torch":
        import torch

        @functools.wraps(function)
        def wrapped(*args):
            with torch.no_grad():
                return function(*args)

        return wrapped
    return function


def scale_loss_for_replicas(loss):
    """Divides `loss` by the number of `tf.distribute` replicas, as Keras' own
    losses do: Keras' TF trainer sums the replicas' gradients, so a
    `compute_loss` returning the plain mean would train with N times the
    gradient. A no-op on other backends and outside a strategy."""
    from keras.src.losses.loss import scale_loss_for_distribution

    return scale_loss_for_distribution(loss)


def default_jit_compile():
    """The training step's `jit_compile` when the user leaves it to us: True
    (XLA) on TensorFlow, about twice as fast as Keras' "auto" (no XLA on a
    CPU-only machine); "auto" elsewhere (jit on JAX, eager on torch)."""
    return True if keras.config.backend() == "tensorflow" else "auto"


def distribution_engine():
    """The engine that distributes training on the active backend:
    `KERAS_DISTRIBUTION` on JAX (and on PyTorch once Keras has a torch
    `keras.distribution` backend, 3.16), `TF_DISTRIBUTE` on TensorFlow
    (Keras' TF `keras.distribution` backend is a prototype), None otherwise."""
    backend = keras.config.backend()
    if backend == "jax" or (backend == "torch" and _torch_distribution_available()):
        return KERAS_DISTRIBUTION
    if backend == "tensorflow":
        return TF_DISTRIBUTE
    return None


def _torch_distribution_available():
    # keras.distribution gained a torch backend after 3.15; detect it rather
    # than trusting a version number.
    try:
        from keras.src.backend.torch import distribution_lib  # noqa: F401
    except ImportError:
        return False
    return True


def distribution_devices():
    """The devices a distributed run spreads over by default: all of
    `keras.distribution.list_devices()`, or for `tf.distribute` all local
    GPUs, else all logical CPUs; empty without an engine."""
    engine = distribution_engine()
    if engine == KERAS_DISTRIBUTION:
        return keras.distribution.list_devices()
    if engine == TF_DISTRIBUTE:
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return []


def tf_distribute_strategy(devices=None, tpu=None):
    """A `TPUStrategy` for the TPU `tpu` (a `TPUClusterResolver` argument such
    as "" or "local"), else a `MirroredStrategy` over `devices` (default:
    `distribution_devices()`)."""
    import tensorflow as tf

    if tpu is not None:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.MirroredStrategy(devices or distribution_devices())


def fold_in_replica_id(seed):
    """`seed` (a Keras seed state) with the `tf.distribute` replica id folded
    in, inside the replica context of a strategy with several replicas, so
    that each replica draws its own numbers; `seed` itself everywhere else
    (other backends, one replica, outside `strategy.run`)."""
    if keras.config.backend() != "tensorflow":
        return seed
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return seed
    replica = tf.cast(context.replica_id_in_sync_group, seed.dtype)
    return tf.random.experimental.stateless_fold_in(seed, replica)
