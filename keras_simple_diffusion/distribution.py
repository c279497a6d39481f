"""Scaling out: data and model parallelism on the engines Keras already has.

One entry point, `configure_distribution(kind, mesh)`, called *before* the
model is built, wires the right engine for the active Keras backend:

- **JAX**: `keras.distribution`. ``kind="data"`` is `DataParallel` over all
  devices; ``kind="model"`` is `ModelParallel` on a 2-D `DeviceMesh` with
  axes ``("batch", "model")``: batches are split over "batch", and a
  `LayoutMap` (regex keys, matched with `re.fullmatch` against variable
  paths; at most one key matches any variable) shards the large 16 x 16
  weights over "model" -- the attention query/key/value/output kernels and
  the MLP and adaLN modulation kernels of every transformer block, and the
  kernels of the widest convolutions (the U-Net's bottom blocks, the U-ViT's
  last residual level, when `widths` is given). Everything else is
  replicated. Data given to `fit` (NumPy arrays or `tf.data`) is split by
  Keras itself (`Distribution.distribute_dataset`), the Keras way. For
  several hosts (TPU pod slices, GPU clusters) call `initialize()` first on
  every host (a thin wrapper of `keras.distribution.initialize`).
- **TensorFlow**: `tf.distribute.MirroredStrategy` (all local GPUs, or all
  logical CPU devices), or `TPUStrategy` with ``tpu=...``; the model must be
  created and compiled inside `context.scope()`; Keras' TF trainer then
  distributes `fit` and its dataset. Only data parallelism exists here
  (``kind="model"`` raises). Keras' `SeedGenerator` gives the *same* random
  numbers on every replica under `tf.distribute` (Keras issue 18426: its
  state is a mirrored variable), which would noise every replica's images
  with the same eps and t; `context.prepare(model)` makes every seed
  generator of the model fold the replica id into its seed.
  Several workers (hosts): `MultiWorkerMirroredStrategy` from `TF_CONFIG`,
  made by `initialize()` at start-up.
- **PyTorch**: Keras 3.15 has no `keras.distribution` backend for torch
  (it arrives with Keras >= 3.16, and is then used as on JAX). ``kind="data"``
  under `torchrun` is data parallelism over `torch.distributed` processes
  (gloo on CPU, NCCL on GPU) inside Keras' own `fit`: see
  `backend.synchronise_torch_training`. Each process takes its share of
  every global batch (`context.shard_dataset`). ``kind="model"``, and a run
  launched by `torchrun` with WORLD_SIZE > 1 but no ``kind``, raise
  `DistributionNotSupportedError` instead of silently training N copies.

Multi-process runs (all backends): `context.process_index` is this
process' index; only process 0 writes files (`context.is_writer`), and
`context.barrier()` waits for the others where they must not run ahead.

Which engine a backend uses, and the TensorFlow strategies, come from
`keras_simple_diffusion.backend`; this module holds the backend-neutral
plan (kinds, meshes, layouts, the context).

Example (JAX or TensorFlow):
>>> context = configure_distribution("model", "4x2", widths=(128, 256))
>>> with context.scope():
...     model = SimpleDiffusion(build_denoiser("uvit-256"))
...     model.compile(optimizer=keras.optimizers.AdamW(1e-4))
>>> context.prepare(model)
>>> model.fit(dataset, epochs=1)
"""

import contextlib
import os
import re
import sys

import keras

from keras_simple_diffusion import backend as engines
from keras_simple_diffusion.backend import (
    KERAS_DISTRIBUTION,
    TF_DISTRIBUTE,
    TORCH_DISTRIBUTED,
    distribution_devices,
    distribution_engine,
    fold_in_replica_id,
    tf_distribute_strategy,
)
from keras_simple_diffusion.choices import DISTRIBUTION_KINDS

# Seconds a collective may wait for a peer before the run fails (a hung
# peer; a dead one fails it at once). Above the longest pause of process 0
# alone: sampling a grid, writing a checkpoint.
COLLECTIVE_TIMEOUT_S = int(os.environ.get("KSD_COLLECTIVE_TIMEOUT", "1800"))
# Seconds without a heartbeat after which JAX's coordinator declares a
# process dead and stops the others.
HEARTBEAT_TIMEOUT_S = int(os.environ.get("KSD_HEARTBEAT_TIMEOUT", "30"))
# What a multi-process launch sets: JAX (see `initialize`), TensorFlow, torchrun.
JAX_LAUNCH_VARIABLES = ("KERAS_DISTRIBUTION_INITIALIZE", "KERAS_DISTRIBUTION_JOB_ADDRESSES")
BATCH_AXIS = "batch"
MODEL_AXIS = "model"

# Sublayer names of `TransformerBlock` (layers/blocks.py): self-attention
# "attention", the optional text "cross_attention", "mlp_hidden",
# "mlp_output", "modulation". The prefix is the block's name:
# "transformer_{i}" in the U-ViT, "{block}_attention" in the U-Net.
_BLOCK = r"(?:transformer_\d+|[^/]+_attention)"
_ATTENTION = rf"{_BLOCK}/(?:attention|cross_attention)"


class DistributionNotSupportedError(RuntimeError):
    """The requested distribution does not exist for the active backend."""


def _supported_message(backend):
    return (
        f"Distributed training is not available on the {backend!r} backend with "
        f"Keras {keras.__version__}. Supported: on JAX, keras.distribution "
        "(--distribution data|model --mesh BATCHxMODEL, multi-host via "
        "keras.distribution.initialize); on TensorFlow, tf.distribute "
        "(--distribution data: MirroredStrategy, MultiWorkerMirroredStrategy from "
        "TF_CONFIG, or TPUStrategy); on PyTorch, data parallelism under torchrun "
        "(torchrun --nproc-per-node N -m keras_simple_diffusion train --distribution "
        "data ...); model parallelism on PyTorch needs Keras >= 3.16 for "
        "keras.distribution, until then run it on JAX (KERAS_BACKEND=jax)."
    )


def parse_mesh(mesh, num_devices=None):
    """Parses ``"BATCHxMODEL"`` (e.g. ``"4x2"``) into ``(batch, model)``.

    ``None`` means all devices on the batch axis: ``(num_devices, 1)``. A
    ``-1`` (``"-1x2"``) takes the remaining devices. With `num_devices`, the
    product must equal it.
    """
    if mesh is None:
        if num_devices is None:
            raise ValueError("parse_mesh(None) needs `num_devices`.")
        return int(num_devices), 1
    if isinstance(mesh, (tuple, list)):
        parts = [int(p) for p in mesh]
    else:
        match = re.fullmatch(r"\s*(-?\d+)\s*[xX,]\s*(-?\d+)\s*", str(mesh))
        if not match:
            raise ValueError(
                f"--mesh must look like BATCHxMODEL, e.g. '4x2' or '8x1'. Received: {mesh!r}"
            )
        parts = [int(match.group(1)), int(match.group(2))]
    if len(parts) != 2:
        raise ValueError(f"A mesh has two axes (batch, model). Received: {mesh!r}")
    batch, model = parts
    if batch == -1 and num_devices is not None and model > 0 and num_devices % model == 0:
        batch = num_devices // model
    if model == -1 and num_devices is not None and batch > 0 and num_devices % batch == 0:
        model = num_devices // batch
    if batch < 1 or model < 1:
        raise ValueError(f"Mesh axes must be positive. Received: {mesh!r}")
    if num_devices is not None and batch * model != num_devices:
        fitting = " or ".join(f"--mesh {b}x{m}" for b, m in fitting_meshes(num_devices, model))
        raise ValueError(
            f"Mesh {batch}x{model} needs {batch * model} devices but {num_devices} "
            f"are visible. Use e.g. {fitting}."
        )
    return batch, model


def fitting_meshes(num_devices, model=1):
    """Meshes that use exactly `num_devices` devices: all of them on the batch
    axis, and one with a model axis (of size `model` where it divides the
    devices, else 2) where the devices split that way."""
    meshes = [(num_devices, 1)]
    for size in (model, 2):
        if 1 < size <= num_devices and num_devices % size == 0:
            meshes.append((num_devices // size, size))
            break
    return meshes


def widest_conv_patterns(widths=None):
    """Regexes of the widest convolutions' variable paths.

    The U-Net's bottom residual blocks (``bottom_{i}``) always; for a U-ViT
    with level `widths`, the residual blocks, downsampling and upsampling
    convolutions of its widest level(s).
    """
    names = [r"bottom_\d+"]
    if widths:
        widest = max(widths)
        for level, width in enumerate(widths):
            if width == widest:
                names += [rf"down_{level}_\d+", rf"up_{level}_\d+"]
    convs = [rf"(?:{'|'.join(names)})/(?:conv_in|conv_out|skip)"]
    if widths:
        levels = "|".join(str(i) for i, w in enumerate(widths) if w == max(widths))
        convs += [rf"downsample_(?:{levels})", rf"upsample_(?:{levels})_conv"]
    return convs


def layout_map(device_mesh, widths=None, model_axis=MODEL_AXIS, shard_convs=True):
    """The `LayoutMap` of the model-parallel run (Megatron-style sharding).

    Attention: query/key/value kernels (dim, heads, head_dim) and biases are
    split over heads, the output kernel (heads, head_dim, dim) too, so each
    device holds whole heads. MLP: the hidden kernel column-wise, the output
    kernel row-wise. adaLN modulation (embedding, 6 dim) column-wise. Convs
    (kh, kw, in, out): split over output channels. The sharded dimensions
    must divide by the size of the model axis (heads, 4 dim, widths).

    Args:
        device_mesh: a `keras.distribution.DeviceMesh` with `model_axis`.
        widths: the U-ViT/U-Net level widths, to find the widest level.
        model_axis: name of the mesh axis that shards weights.
        shard_convs: also shard the widest convolutions.
    """
    m = model_axis
    layouts = keras.distribution.LayoutMap(device_mesh)
    layouts[rf"{_ATTENTION}/(?:query|key|value)/kernel"] = (None, m, None)
    layouts[rf"{_ATTENTION}/(?:query|key|value)/bias"] = (m, None)
    layouts[rf"{_ATTENTION}/attention_output/kernel"] = (m, None, None)
    layouts[rf"{_BLOCK}/mlp_hidden/kernel"] = (None, m)
    layouts[rf"{_BLOCK}/mlp_hidden/bias"] = (m,)
    layouts[rf"{_BLOCK}/mlp_output/kernel"] = (m, None)
    layouts[rf"{_BLOCK}/modulation/kernel"] = (None, m)
    layouts[rf"{_BLOCK}/modulation/bias"] = (m,)
    if shard_convs:
        for pattern in widest_conv_patterns(widths):
            layouts[rf"{pattern}/kernel"] = (None, None, None, m)
            layouts[rf"{pattern}/bias"] = (m,)
    return layouts


def sharded_variables(model, model_axis=MODEL_AXIS):
    """``{path: spec}`` of the model's variables whose layout uses `model_axis`
    under the active `keras.distribution` (JAX)."""
    distribution = keras.distribution.distribution()
    if distribution is None:
        return {}
    result = {}
    for variable in model.weights:
        layout = distribution.get_variable_layout(variable)
        axes = tuple(getattr(layout, "axes", ()) or ())
        if model_axis in axes:
            result[variable.path] = axes
    return result


def check_layout(model, layouts, model_axis=MODEL_AXIS):
    """Checks that no variable path matches two keys of `layouts` and that the
    sharded dimensions divide by the model axis; returns the matched paths."""
    size = dict(zip(layouts.device_mesh.axis_names, layouts.device_mesh.shape))[model_axis]
    matched = {}
    for variable in model.weights:
        keys = [k for k in layouts.keys() if re.fullmatch(k, variable.path)]
        if len(keys) > 1:
            raise ValueError(f"{variable.path} matches several LayoutMap keys: {keys}")
        if not keys:
            continue
        axes = layouts[keys[0]].axes
        for dim, axis in zip(variable.shape, axes):
            if axis == model_axis and dim % size:
                raise ValueError(
                    f"{variable.path} of shape {tuple(variable.shape)} cannot be split "
                    f"{size} ways on the '{model_axis}' axis (dimension {dim}). Choose "
                    "a model axis that divides the heads, widths and MLP width."
                )
        matched[variable.path] = axes
    return matched


def _seed_generators(model):
    """Every `SeedGenerator` of `model` and its sublayers, in Keras' own
    bookkeeping (`Layer._flatten_layers`, `Layer._seed_generators`: private
    APIs, which tests/distribution checks on every backend, so that a Keras
    that renames them fails there instead of silently finding none)."""
    for layer in model._flatten_layers(include_self=True, recursive=True):
        yield from layer._seed_generators


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `SeedGenerator` that folds the replica id into its seed under
    `tf.distribute`, so replicas draw different numbers (Keras issue 18426).

    Outside a replica context, or with one replica, it is the plain
    generator: the same seed gives the same numbers as before.
    """

    def next(self, ordered=True):
        return fold_in_replica_id(super().next(ordered=ordered))


def make_replica_aware(model):
    """Makes every plain `SeedGenerator` of `model` (the training noise and
    the dropout, Keras' and keras-hub's layers' included) a
    `ReplicaSeedGenerator`, in place; returns how many it changed.

    In place because the layers hold their generators and a built Keras
    layer takes no new state: the generator keeps its identity and its
    state variable and only changes class, which adds no state. This relies
    on `keras.random` drawing through `SeedGenerator.next` and on the
    generator's class being assignable; tests/distribution checks both on
    every backend.
    """
    count = 0
    for generator in _seed_generators(model):
        if type(generator) is keras.random.SeedGenerator:
            generator.__class__ = ReplicaSeedGenerator
            count += 1
    return count


class DistributionContext:
    """What `configure_distribution` returns.

    Attributes:
        kind: None (single device), "data" or "model".
        backend: the Keras backend.
        num_replicas: data-parallel replicas (the batch axis size).
        mesh: ``(batch, model)``.
        distribution: the `keras.distribution.Distribution` (JAX) or None.
        strategy: the `tf.distribute.Strategy` (TensorFlow) or None.
    """

    def __init__(self, kind, backend, mesh=(1, 1), distribution=None, strategy=None):
        self.kind = kind
        self.backend = backend
        self.mesh = mesh
        self.num_replicas = mesh[0]
        self.distribution = distribution
        self.strategy = strategy
        self.process_index = engines.process_index()
        self.num_processes = engines.process_count()

    @property
    def is_writer(self):
        """Whether this process writes the run folder: process 0 only."""
        return self.process_index == 0

    @property
    def symmetric(self):
        """Whether every process must run the same computations, saving and
        sampling included: JAX with several processes (its arrays span
        them), TensorFlow with several workers (a variable made under the
        strategy, as saving a model makes, is a collective)."""
        return self.backend in ("jax", "tensorflow") and self.num_processes > 1

    @property
    def torch_processes(self):
        """Whether `torch.distributed` processes share the training."""
        return self.backend == "torch" and self.kind is not None and self.distribution is None

    @property
    def jit_compile(self):
        """The `jit_compile` to pass to `compile`: XLA cannot compile a step
        over a `MirroredStrategy`'s per-device variables (TF raises "Trying to
        access resource ... located in device CPU:1 from device CPU:0"), nor
        Keras' step over a `MultiWorkerMirroredStrategy` (its XLA function
        is given the per-replica batch: "Attempt to convert a value
        (PerReplica...)"), so False there; "auto" (Keras' default) elsewhere,
        `TPUStrategy` included."""
        if self.strategy is not None and "TPU" not in type(self.strategy).__name__:
            return False
        return "auto"

    def scope(self):
        """Create and compile the model inside this scope."""
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        return contextlib.nullcontext()

    def prepare(self, model):
        """Call after building and compiling the model: replica-aware random
        numbers under tf.distribute and torch.distributed, whose processes
        also start from rank 0's variables and average their gradients; a
        check of the layout (divisibility) under JAX."""
        if self.strategy is not None and self.strategy.num_replicas_in_sync > 1:
            make_replica_aware(model)
        if self.torch_processes and self.num_processes > 1:
            make_replica_aware(model)
            engines.synchronise_torch_training(model)
        if isinstance(self.distribution, keras.distribution.ModelParallel):
            check_layout(model, self.distribution._layout_map)
        return model

    def shard_dataset(self, dataset, batch_size):
        """This process' share of a `tf.data` dataset of global batches of
        `batch_size`: under torch.distributed, rank r takes the r-th of the
        equal slices of every global batch (as Keras' `DataParallel` shards
        across JAX processes); elsewhere the dataset itself (Keras and
        tf.distribute shard it)."""
        if not (self.torch_processes and self.num_processes > 1):
            return dataset
        share = batch_size // self.num_processes
        return dataset.rebatch(share).shard(self.num_processes, self.process_index)

    def barrier(self):
        """Waits until every process gets here (no-op in one process)."""
        if self.num_processes <= 1:
            return
        engines.barrier(self.strategy)

    def check_batch_size(self, batch_size):
        """The global batch must split evenly over the replicas."""
        if batch_size % self.num_replicas:
            raise ValueError(
                f"The batch size {batch_size} does not split over {self.num_replicas} "
                "data-parallel replicas; use a multiple of the mesh's batch axis."
            )
        return batch_size

    def __repr__(self):
        engine = self.strategy or self.distribution
        return f"DistributionContext(kind={self.kind!r}, backend={self.backend!r}, mesh={self.mesh}, engine={engine!r})"


def configure_distribution(kind=None, mesh=None, widths=None, devices=None, tpu=None):
    """Sets up data or model parallelism for the active backend.

    Call before building the model; build and compile it inside the returned
    context's `scope()`, then call `context.prepare(model)`.

    Args:
        kind: None (single device), "data" or "model" (the CLI's
            ``--distribution``).
        mesh: ``"BATCHxMODEL"`` (the CLI's ``--mesh``), e.g. "8x1" or "4x2";
            default: all devices on the batch axis (``kind="model"``: two
            devices on the model axis).
        widths: the denoiser's level widths, so that the model-parallel
            layout also shards the widest level's convolutions.
        devices: devices to use (JAX: device strings such as "cpu:0"; TF:
            device names); default: all of them (TF: all GPUs, else all
            logical CPUs).
        tpu: TensorFlow only: a `TPUClusterResolver` argument (e.g. "" or
            "local") to use `TPUStrategy` instead of `MirroredStrategy`.

    Returns:
        A `DistributionContext`.

    Raises:
        DistributionNotSupportedError: on PyTorch (Keras < 3.16), or for
            model parallelism on TensorFlow.
    """
    if kind is not None and kind not in DISTRIBUTION_KINDS:
        raise ValueError(f"--distribution must be one of {DISTRIBUTION_KINDS}. Received: {kind!r}")
    backend = keras.config.backend()
    engine = distribution_engine()
    if engine == TORCH_DISTRIBUTED:
        return _configure_torch_distributed(kind, mesh)
    if kind is None:
        if mesh is not None:
            raise ValueError("--mesh needs --distribution data|model.")
        return DistributionContext(None, backend)
    if engine == KERAS_DISTRIBUTION:
        return _configure_keras_distribution(kind, mesh, widths, devices)
    return _configure_tf_distribute(kind, mesh, devices, tpu)


def _configure_torch_distributed(kind, mesh):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if kind is None:
        if world > 1:
            raise DistributionNotSupportedError(
                f"launched by torchrun with WORLD_SIZE={world} but without --distribution "
                "data, which would train the same model in every process. "
                + _supported_message("torch")
            )
        if mesh is not None:
            raise ValueError("--mesh needs --distribution data|model.")
        return DistributionContext(None, "torch")
    if kind == "model":
        raise DistributionNotSupportedError(
            "--distribution model was requested. " + _supported_message("torch")
        )
    if "MASTER_ADDR" in os.environ:  # a torchrun launch
        _, world = engines.start_torch_processes(COLLECTIVE_TIMEOUT_S)
    else:  # one process, e.g. resuming a multi-process run on one device
        world = 1
        print(
            "notice: --distribution data on PyTorch without torchrun trains in this one "
            "process; launch it with torchrun --nproc-per-node N to use N devices",
            file=sys.stderr,
        )
    if mesh is not None and parse_mesh(mesh) != (world, 1):
        raise ValueError(
            f"--mesh {mesh}: torch.distributed here is data parallel over the "
            f"{world} processes; use --mesh {world}x1 or leave it out."
        )
    return DistributionContext(kind, "torch", (world, 1))


def _configure_keras_distribution(kind, mesh, widths, devices):
    devices = devices or distribution_devices()
    n = len(devices)
    if mesh is None and kind == "model":
        mesh = "-1x2" if n % 2 == 0 and n > 1 else f"{n}x1"
    batch, model = parse_mesh(mesh, n)
    if kind == "data":
        if model != 1:
            raise ValueError(
                f"--distribution data puts every device on the batch axis; got mesh "
                f"{batch}x{model}. Use --distribution model for a model axis > 1."
            )
        distribution = keras.distribution.DataParallel(devices=devices)
    else:
        device_mesh = keras.distribution.DeviceMesh(
            shape=(batch, model), axis_names=(BATCH_AXIS, MODEL_AXIS), devices=devices
        )
        distribution = keras.distribution.ModelParallel(
            layout_map=layout_map(device_mesh, widths=widths), batch_dim_name=BATCH_AXIS
        )
    keras.distribution.set_distribution(distribution)
    return DistributionContext(
        kind, keras.config.backend(), (batch, model), distribution=distribution
    )


def _configure_tf_distribute(kind, mesh, devices, tpu):
    if kind == "model":
        raise DistributionNotSupportedError(
            "Model parallelism (--distribution model) uses keras.distribution, whose "
            "TensorFlow backend is a prototype in Keras "
            f"{keras.__version__}; run it on JAX (KERAS_BACKEND=jax). TensorFlow "
            "supports --distribution data (MirroredStrategy / TPUStrategy)."
        )
    strategy = tf_distribute_strategy(devices, tpu)
    n = strategy.num_replicas_in_sync
    if mesh is not None:
        batch, model = parse_mesh(mesh, n)
        if model != 1:
            raise DistributionNotSupportedError(
                f"tf.distribute here is data parallel only; use --mesh {n}x1."
            )
    return DistributionContext(kind, keras.config.backend(), (n, 1), strategy=strategy)


def multi_process_launch():
    """Whether this process was launched as one of several that must join
    before anything touches a device: the JAX variables of `initialize`, or a
    `TF_CONFIG` naming several workers (TensorFlow). (`torchrun`'s processes
    join when `configure_distribution("data")` runs.)"""
    engine = distribution_engine()
    if engine == KERAS_DISTRIBUTION:
        return any(os.environ.get(name) for name in JAX_LAUNCH_VARIABLES)
    return engine == TF_DISTRIBUTE and engines.tf_workers_configured()


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Multi-process set-up, on every process, before anything touches a
    device.

    JAX: `keras.distribution.initialize`. On Cloud TPU pod slices all three
    arguments can stay None (JAX reads the TPU environment). On GPU clusters
    pass the coordinator address ("10.0.0.1:1234"), the number of processes
    and this process' id, or set KERAS_DISTRIBUTION_JOB_ADDRESSES,
    KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID.
    Afterwards `list_devices()` returns the devices of all processes and
    `configure_distribution` spans them.

    TensorFlow: the `MultiWorkerMirroredStrategy` of the cluster in
    `TF_CONFIG` (no arguments), which `configure_distribution("data")` then
    uses.
    """
    engine = distribution_engine()
    if engine == TF_DISTRIBUTE:
        engines.start_tf_workers(COLLECTIVE_TIMEOUT_S)
        return
    if engine != KERAS_DISTRIBUTION:
        raise DistributionNotSupportedError(
            "Multi-process set-up here is keras.distribution.initialize (JAX) or "
            "TF_CONFIG (TensorFlow); on PyTorch, torchrun starts the processes and "
            "--distribution data joins them. " + _supported_message(keras.config.backend())
        )
    engines.start_jax_processes(job_addresses, num_processes, process_id, HEARTBEAT_TIMEOUT_S)
