"""One check for every layer of the package, in the spirit of keras-hub's
`TestCase.run_layer_test`: `run_layer_test(layer_cls, init_kwargs, input_data,
expected_output_shape)` builds the layer, calls it symbolically and eagerly,
fits one step, round-trips its config and a `.keras` file, and checks its
dtype policy reaches every sublayer under each of `POLICIES`.

Tests import it as `from layer_test_case import ...` (tests/ is on the path
through tests/conftest.py).
"""

import json
import os
import tempfile

import keras
import numpy as np
from keras import ops, tree

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")

# Largest |half - float32| of a layer's output with the same weights, relative
# to the largest |float32 output|: float16 keeps 11 significant bits, bfloat16 8.
HALF_PRECISION_TOLERANCE = {"mixed_float16": 0.01, "mixed_bfloat16": 0.05}


def to_numpy(x):
    """A tensor as a NumPy array; half-precision floats as float32."""
    if keras.backend.is_float_dtype(x.dtype):
        x = ops.cast(x, "float32")
    return ops.convert_to_numpy(x)


def assert_policy_everywhere(layer, policy):
    """Asserts `layer` and each of its sublayers carry the dtype policy `policy`
    and keep their variables in its variable dtype (the Input layers of a
    functional model take their own dtypes and are left out)."""
    policy = keras.dtype_policies.get(policy)
    wrong = [
        f"{sublayer.path or sublayer.name}: {sublayer.dtype_policy.name}"
        for sublayer in layer._flatten_layers(include_self=True)
        if not isinstance(sublayer, keras.layers.InputLayer)
        and sublayer.dtype_policy.name != policy.name
    ]
    assert not wrong, f"sublayers not under {policy.name}: {wrong}"
    float_variables = [v for v in layer.weights if keras.backend.is_float_dtype(v.dtype)]
    assert all(v.dtype == policy.variable_dtype for v in float_variables)


def perturb(layer, seed=0):
    """Random values in every float weight: zero-initialised gates and output
    convolutions make a fresh block the identity, which hides the weights."""
    rng = np.random.RandomState(seed)
    for variable in layer.weights:
        if keras.backend.is_float_dtype(variable.dtype):
            variable.assign(rng.normal(0, 0.1, variable.shape).astype(variable.dtype))


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    run_training_check=True,
    run_saving_check=True,
):
    """Checks `layer_cls(**init_kwargs)` on `input_data` (a NumPy array or a
    list of them, batch first). Returns the eager float32 output, for the
    caller's exact-value checks."""
    _check_config_round_trip(layer_cls(**init_kwargs))

    layer = layer_cls(**init_kwargs)
    _check_output(layer, layer(_symbolic(input_data)), expected_output_shape)

    layer = layer_cls(**init_kwargs)
    output = layer(input_data)
    _check_output(layer, output, expected_output_shape)
    assert np.all(np.isfinite(to_numpy(output)))
    # Once built (SelectiveDropout reads its resolution from the input).
    _check_config_round_trip(layer)

    if run_training_check:
        _check_fit_step(layer_cls(**init_kwargs), input_data, output)
    if run_saving_check:
        _check_keras_file_round_trip(layer_cls(**init_kwargs), input_data)
    for policy in POLICIES:
        _check_precision(layer_cls, init_kwargs, input_data, expected_output_shape, policy)
    return output


def _symbolic(input_data):
    return tree.map_structure(lambda x: keras.KerasTensor(x.shape, dtype=x.dtype), input_data)


def _check_config_round_trip(layer):
    config = layer.get_config()
    as_json = json.dumps(config, sort_keys=True)  # a .keras file stores JSON
    restored = layer.__class__.from_config(config)
    assert json.dumps(restored.get_config(), sort_keys=True) == as_json
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is type(layer)
    assert json.dumps(revived.get_config(), sort_keys=True) == as_json


def _check_output(layer, output, expected_output_shape):
    assert tuple(output.shape) == tuple(expected_output_shape)
    assert keras.backend.standardize_dtype(output.dtype) == layer.compute_dtype


class _GainedLayer(keras.Model):
    """The layer after a trainable gain on its float inputs: a fit step then
    has a weight to move even in a layer without any, through the layer's
    own gradient."""

    def __init__(self, layer):
        # The default name, from the class name, starts with "_": TF rejects it.
        super().__init__(name="gained_layer")
        self.layer = layer
        self.gain = self.add_weight(shape=(), initializer="ones", name="gain")

    def call(self, inputs, training=False):
        def scale(x):
            if keras.backend.is_float_dtype(x.dtype):
                return x * ops.cast(self.gain, x.dtype)
            return x

        return self.layer(tree.map_structure(scale, inputs), training=training)


def _check_fit_step(layer, input_data, output):
    model = _GainedLayer(layer)
    model(input_data)  # builds the layer, so its weights exist before the step
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    target = np.random.RandomState(1).normal(size=output.shape).astype("float32")
    layer_weights = layer.trainable_weights
    before = [to_numpy(w) for w in [model.gain, *layer_weights]]
    batch = tree.flatten(input_data)[0].shape[0]
    loss = model.fit(input_data, target, batch_size=batch, epochs=1, verbose=0).history["loss"]
    assert np.isfinite(loss[0]), loss
    gain_changed, *changed = [
        not np.array_equal(b, to_numpy(w)) for b, w in zip(before, [model.gain, *layer_weights])
    ]
    assert gain_changed, "no gradient reached the layer's inputs"
    assert not layer_weights or any(changed), "the fit step left every weight unchanged"


def _check_keras_file_round_trip(layer, input_data):
    inputs = tree.map_structure(
        lambda x: keras.Input(batch_shape=x.shape, dtype=x.dtype), input_data
    )
    model = keras.Model(inputs, layer(inputs))
    perturb(model)
    expected = to_numpy(model(input_data))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "layer.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(input_data)), expected)


def _check_precision(layer_cls, init_kwargs, input_data, expected_output_shape, policy):
    policy = keras.dtype_policies.get(policy)
    reference = layer_cls(**init_kwargs, dtype="float32")
    reference(input_data)  # builds it
    perturb(reference)
    expected = to_numpy(reference(input_data))

    layer = layer_cls(**init_kwargs, dtype=policy)
    spec = layer.compute_output_spec(_symbolic(input_data))
    _check_output(layer, spec, expected_output_shape)
    output = layer(input_data)
    _check_output(layer, output, expected_output_shape)
    assert_policy_everywhere(layer, policy)
    # The same weights give the float32 output up to the half type's rounding.
    layer.set_weights(reference.get_weights())
    output = to_numpy(layer(input_data))
    assert np.all(np.isfinite(output)), policy.name
    if policy.name in HALF_PRECISION_TOLERANCE:
        error = np.abs(output - expected).max() / max(np.abs(expected).max(), 1e-6)
        assert error < HALF_PRECISION_TOLERANCE[policy.name], (policy.name, error)
    else:
        np.testing.assert_array_equal(output, expected)
