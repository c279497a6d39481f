"""The one place with backend-specific branches."""

import functools
import itertools

import keras


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
