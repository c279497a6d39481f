"""Data and model parallelism.

The multi-device tests run `scenarios.py` in a fresh process, because the
device count is fixed when JAX/TF initialise: JAX with
XLA_FLAGS=--xla_force_host_platform_device_count=8, TF with 2 logical CPUs.
Each runs only under its own backend (KERAS_BACKEND), and skips elsewhere:

    KERAS_BACKEND=jax        pytest tests/distribution
    KERAS_BACKEND=tensorflow pytest tests/distribution
    KERAS_BACKEND=torch      pytest tests/distribution
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from device_flags import xla_flags

from keras_simple_diffusion import backend, distribution

SCENARIOS = pathlib.Path(__file__).with_name("scenarios.py")
BACKEND = keras.config.backend()


def run_scenario(name, backend, timeout=900, **env):
    environment = {**os.environ, "KERAS_BACKEND": backend, **env}
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    proc = subprocess.run(
        [sys.executable, str(SCENARIOS), name],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(lines[-1][len("RESULT ") :])


JAX_8 = dict(XLA_FLAGS=xla_flags(8))


# Backend-independent pieces.


def test_parse_mesh():
    assert distribution.parse_mesh("4x2") == (4, 2)
    assert distribution.parse_mesh("8X1", 8) == (8, 1)
    assert distribution.parse_mesh("-1x2", 8) == (4, 2)
    assert distribution.parse_mesh(None, 8) == (8, 1)
    with pytest.raises(ValueError, match="BATCHxMODEL"):
        distribution.parse_mesh("4*2")
    with pytest.raises(ValueError, match=r"needs 8 devices but 4 .* --mesh 4x1 or --mesh 2x2\.$"):
        distribution.parse_mesh("4x2", 4)
    # Only meshes that fit are suggested: the model axis asked for where it
    # divides the devices, else 2, else none.
    with pytest.raises(
        ValueError, match=r"but 8 are visible\. Use e\.g\. --mesh 8x1 or --mesh 2x4\.$"
    ):
        distribution.parse_mesh("4x4", 8)
    with pytest.raises(
        ValueError, match=r"but 6 are visible\. Use e\.g\. --mesh 6x1 or --mesh 3x2\.$"
    ):
        distribution.parse_mesh("2x4", 6)
    with pytest.raises(ValueError, match=r"but 1 are visible\. Use e\.g\. --mesh 1x1\.$"):
        distribution.parse_mesh("1x2", 1)


def test_engine_and_devices_of_the_backend():
    engine, devices = backend.distribution_engine(), backend.distribution_devices()
    if BACKEND == "jax":
        assert engine == "keras.distribution"
        assert devices == keras.distribution.list_devices() and devices
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        assert engine == "tf.distribute"
        gpus, cpus = tf.config.list_logical_devices("GPU"), tf.config.list_logical_devices("CPU")
        assert devices == [d.name for d in gpus or cpus]
    else:  # torchrun's processes, one device each
        assert engine == "torch.distributed" and devices == []


@pytest.mark.backends("jax", "tensorflow")  # no device mesh on torch
def test_mesh_larger_than_the_devices_suggests_meshes_that_fit():
    n = len(backend.distribution_devices())
    kind = "model" if BACKEND == "jax" else "data"
    with pytest.raises(ValueError, match=rf"Mesh {n}x2 needs {2 * n} devices but {n} are") as info:
        distribution.configure_distribution(kind, f"{n}x2")
    suggested = str(info.value).split("Use e.g. ")[1]
    assert suggested.startswith(f"--mesh {n}x1")
    assert f"{n}x2" not in suggested


def test_unknown_kind():
    with pytest.raises(ValueError, match="data"):
        distribution.configure_distribution("pipeline")


@pytest.mark.backends("jax")
def test_layout_map_one_key_per_variable_and_divisible():
    import keras_simple_diffusion as ksd

    for preset, widths in (("uvit-tiny", (16,)), ("unet-tiny", (16,))):
        model = ksd.build_denoiser(preset)
        mesh = keras.distribution.DeviceMesh((1, 2), ("batch", "model"), devices=["cpu:0"] * 2)
        layouts = distribution.layout_map(mesh, widths=widths)
        matched = distribution.check_layout(model, layouts)
        # Every attention and MLP kernel of the 16x16 stack is sharded.
        kernels = [p for p in matched if p.endswith("kernel")]
        for part in (
            "attention/query",
            "attention/key",
            "attention/value",
            "attention/attention_output",
            "mlp_hidden",
            "mlp_output",
        ):
            assert any(part in p for p in kernels), (preset, part)
        assert any("conv" in p or "downsample" in p for p in kernels), preset
    big = ksd.models.presets.preset_config("uvit-512")[1]
    assert distribution.widest_conv_patterns(big["widths"])[1:] == [
        r"downsample_(?:1)",
        r"upsample_(?:1)_conv",
    ]


@pytest.mark.backends("jax")
@pytest.mark.slow
def test_jax_data_parallel_fit_on_8_devices():
    result = run_scenario("jax_data", "jax", **JAX_8)
    assert result["devices"] == 8 and result["mesh"] == [8, 1]
    assert result["kernel_devices"] == 8  # replicated over all 8
    assert all(s == "None" for s in result["kernel_spec"])
    assert np.all(np.isfinite(result["losses"])) and len(result["losses"]) == 6


@pytest.mark.backends("jax")
@pytest.mark.slow
def test_jax_model_parallel_shards_kernels_and_matches_single_device():
    result = run_scenario("jax_model", "jax", **JAX_8)
    assert result["devices"] == 8 and result["mesh"] == [4, 2]
    specs, shards = result["specs"], result["shard_shapes"]
    expected = {
        "transformer_0/attention/query/kernel": [None, "model", None],
        "transformer_0/attention/key/kernel": [None, "model", None],
        "transformer_0/attention/value/kernel": [None, "model", None],
        "transformer_0/attention/attention_output/kernel": ["model", None, None],
        "transformer_0/mlp_hidden/kernel": [None, "model"],
        "transformer_0/mlp_output/kernel": ["model", None],
        "transformer_0/modulation/kernel": [None, "model"],
        # The widest convolutions (uvit-tiny: its single level, width 16).
        "down_0_0/conv_in/kernel": [None, None, None, "model"],
        "up_0_1/conv_out/kernel": [None, None, None, "model"],
    }
    for path, spec in expected.items():
        assert specs[path] == spec, path
    # Really split: each device holds half of the heads / MLP columns.
    assert shards["transformer_0/attention/query/kernel"] == [32, 1, 16]
    assert shards["transformer_0/mlp_hidden/kernel"] == [32, 64]
    assert shards["down_0_0/conv_in/kernel"] == [3, 3, 16, 8]
    # Everything else is replicated.
    assert all(a is None for a in specs["stem/kernel"])
    assert all(a is None for a in specs["token_projection/kernel"])
    # Same seed, same data: the same losses as one device.
    np.testing.assert_allclose(result["losses"], result["single_losses"], rtol=1e-4, atol=1e-5)


@pytest.mark.backends("tensorflow")
@pytest.mark.slow
def test_tf_mirrored_strategy_fit_with_different_noise_per_replica():
    result = run_scenario("tf_mirrored", "tensorflow")
    assert result["replicas"] == 2 and result["strategy"] == "MirroredStrategy"
    # Keras issue 18426: without the fix both replicas draw the same t and
    # eps, so the same images give the same loss on both.
    before, after, after_2 = result["before_fix"], result["after_fix"], result["after_fix_2"]
    assert before[0] == pytest.approx(before[1], rel=1e-6)
    assert after[0] != pytest.approx(after[1], rel=1e-3)
    assert after_2[0] != pytest.approx(after_2[1], rel=1e-3)
    assert after_2 != after  # and the stream still advances
    assert result["changed"] >= 2  # training + sampling generators (+ dropout)
    assert np.all(np.isfinite(result["losses"])) and len(result["losses"]) == 6
    # The loss is divided over the replicas as Keras' losses are (gradients
    # are summed): with the same noise, each replica reports half the loss.
    assert before[0] == pytest.approx(result["unscaled"] / result["replicas"], rel=1e-4)


@pytest.mark.backends("tensorflow")
def test_tf_model_parallel_is_a_clear_error():
    with pytest.raises(distribution.DistributionNotSupportedError, match="JAX"):
        distribution.configure_distribution("model", "1x2")


@pytest.mark.backends("torch")
def test_torch_model_parallel_is_a_clear_error():
    with pytest.raises(distribution.DistributionNotSupportedError) as info:
        distribution.configure_distribution("model", "1x2")
    message = str(info.value)
    assert "3.16" in message and "JAX" in message and "torchrun" in message


@pytest.mark.backends("torch")
def test_torch_data_parallel_without_torchrun_is_one_process_said_so(monkeypatch, capsys):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    context = distribution.configure_distribution("data")
    assert (context.kind, context.mesh, context.num_processes) == ("data", (1, 1), 1)
    assert context.is_writer and "torchrun --nproc-per-node N" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--mesh 1x1"):
        distribution.configure_distribution("data", "2x1")


@pytest.mark.backends("torch")
def test_torchrun_without_flag_is_not_a_silent_single_device_run(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(distribution.DistributionNotSupportedError, match="torchrun"):
        distribution.configure_distribution(None)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distribution.configure_distribution(None).kind is None


def test_replica_seed_generator_is_plain_outside_replicas():
    a = distribution.ReplicaSeedGenerator(3)
    b = keras.random.SeedGenerator(3)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.random.normal((4,), seed=a)),
        keras.ops.convert_to_numpy(keras.random.normal((4,), seed=b)),
    )


# The private Keras APIs `make_replica_aware` relies on: these fail loudly if a
# Keras upgrade changes them.


class _Holder(keras.layers.Layer):
    def __init__(self, *parts):
        super().__init__()
        self.parts = list(parts)


def _model_with_keras_dropout():
    """A SimpleDiffusion and a Keras `Dropout` inside a functional model (as
    in a keras-hub text encoder), held by one layer."""
    import keras_simple_diffusion as ksd

    model = ksd.SimpleDiffusion(ksd.build_denoiser("uvit-tiny", dropout=0.1))
    inputs = keras.Input((4,))
    keras_dropout = keras.layers.Dropout(0.5)
    return _Holder(model, keras.Model(inputs, keras_dropout(inputs))), model, keras_dropout


def test_seed_generators_are_found_in_keras_bookkeeping():
    from keras_simple_diffusion.layers.dropout import SelectiveDropout

    holder, model, keras_dropout = _model_with_keras_dropout()
    found = list(distribution._seed_generators(holder))
    expected = [model.seed_generator, model.sampling_seed_generator, keras_dropout.seed_generator]
    expected += [
        layer.seed_generator
        for layer in model.denoiser._flatten_layers()
        if isinstance(layer, SelectiveDropout)
    ]
    assert len(expected) > 4  # the tiny U-ViT has selective dropouts
    assert sorted(map(id, found)) == sorted(map(id, expected))


def test_make_replica_aware_keeps_each_generator_and_its_numbers():
    holder, model, keras_dropout = _model_with_keras_dropout()
    twin = keras.random.SeedGenerator(0)
    generators = list(distribution._seed_generators(holder))
    states = [g.state for g in generators]
    assert distribution.make_replica_aware(holder) == len(generators)
    assert distribution.make_replica_aware(holder) == 0
    after = list(distribution._seed_generators(holder))
    assert [id(g) for g in after] == [id(g) for g in generators]
    assert all(type(g) is distribution.ReplicaSeedGenerator for g in after)
    assert all(g.state is state for g, state in zip(after, states))
    assert type(keras_dropout.seed_generator) is distribution.ReplicaSeedGenerator
    # Same seed and state as a plain generator: the same numbers (no replicas here).
    model.seed_generator.state.assign(twin.state.value)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(keras.random.normal((5,), seed=model.seed_generator)),
        keras.ops.convert_to_numpy(keras.random.normal((5,), seed=twin)),
    )


def test_keras_random_draws_through_seed_generator_next():
    class FixedSeed(keras.random.SeedGenerator):
        def next(self, ordered=True):
            super().next(ordered=ordered)
            return keras.ops.convert_to_tensor([7, 0], dtype=self.state.dtype)

    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(keras.random.normal((5,), seed=FixedSeed(1))),
        keras.ops.convert_to_numpy(keras.random.normal((5,), seed=7)),
    )
