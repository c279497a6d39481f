"""Mixed precision: ``--precision float32|bfloat16|float16``.

`configure_precision(name)` sets Keras' global dtype policy *before* the
model is built: "float32", "mixed_bfloat16" or "mixed_float16" (variables
in float32, computations in the half type). With "float16", `compile` wraps
the optimizer in a `keras.optimizers.LossScaleOptimizer` (Keras does this
itself for a model whose policy is mixed_float16, `auto_scale_loss=True`);
`loss_scale_optimizer()` does it explicitly for custom loops.

A denoiser can also take the policy alone:
`build_denoiser(name, dtype="mixed_bfloat16")` passes it to every layer
(the model's `dtype_policy`, kept by its config) while the global policy,
and so the `SimpleDiffusion` around it, stays float32. Keras then adds no
loss scaling: with "mixed_float16" that way, wrap the optimizer with
`loss_scale_optimizer(optimizer, "float16")`.

What stays in float32 (checked by tests/precision and tests/core):
- the schedule, t, alpha/sigma, the noise and the noised input: computed
  by `SimpleDiffusion.compute_loss` in float32 (the images are cast to
  float32 and the denoiser's output is cast back to float32 before the loss);
- the loss and its weighting / multiscale pooling (`losses.py`, float32);
- LayerNormalization and GroupNormalization: Keras computes them in float32
  for half-precision inputs (`ops.layer_normalization` upcasts;
  GroupNormalization upcasts), then casts the output back;
- the attention softmax: `MultiHeadAttention` takes the
  `ops.dot_product_attention` path, whose JAX and TF implementations
  compute the logits' softmax in float32; on torch it is
  `scaled_dot_product_attention`, which accumulates in float32;
- the noise-level embedding's input and sinusoids (its `input_dtype` is
  float32, so logSNR is not rounded to half precision; the MLP then runs in
  the compute dtype).
"""

import keras

from keras_simple_diffusion.choices import PRECISION_POLICIES

# The --precision names, and Keras' own policy names for the mixed ones.
PRECISIONS = {
    **PRECISION_POLICIES,
    **{policy: policy for policy in PRECISION_POLICIES.values()},
}


def policy_name(name):
    """Maps a --precision value to a Keras dtype policy name."""
    if name is None:
        return "float32"
    if name not in PRECISIONS:
        raise ValueError(
            f"--precision must be one of {', '.join(PRECISION_POLICIES)}. Received: {name!r}"
        )
    return PRECISIONS[name]


def configure_precision(name="float32"):
    """Sets the global Keras dtype policy for `name`; returns the policy.

    Call before building the model. Compile as usual: with float16 Keras
    adds dynamic loss scaling (`LossScaleOptimizer`) to the optimizer.
    """
    policy = policy_name(name)
    keras.config.set_dtype_policy(policy)
    return keras.config.dtype_policy()


def needs_loss_scaling(name=None):
    """Whether `name` (default: the global policy) is float16."""
    policy = policy_name(name) if name is not None else keras.config.dtype_policy().name
    return policy == "mixed_float16"


def loss_scale_optimizer(optimizer, name=None):
    """Wraps `optimizer` in a `LossScaleOptimizer` when the precision is
    float16 (idempotent); returns it unchanged otherwise."""
    if needs_loss_scaling(name) and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
