"""Everything that differs between the Keras backends.

Every check of `keras.config.backend()` that changes what the package does,
and every import of `jax`, `tensorflow` or `torch` but TensorFlow's as a
library (see below), lives in this module:

- `compile_inference`: compiled sampling (`jax.jit`, `tf.function`, torch
  eager under `no_grad`);
- `scale_loss_for_replicas`: the per-replica loss scaling of Keras' TF
  trainer under `tf.distribute`;
- `default_jit_compile`, `tensorflow_xla`: XLA by default on TensorFlow
  (training and sampling) unless `KSD_TF_XLA=0`, Keras' "auto" elsewhere;
- `distribution_engine`, `distribution_devices`, `tf_distribute_strategy`:
  which engine distributes training (`keras.distribution` on JAX,
  `tf.distribute` on TensorFlow, none on PyTorch with Keras 3.15), over
  which devices;
- `fold_in_replica_id`: per-replica random streams under `tf.distribute`
  and across `torch.distributed` processes;
- `start_torch_processes`, `synchronise_torch_training`, `barrier`:
  data parallelism over `torch.distributed` processes (launched by
  `torchrun`), inside Keras' own `fit`;
- `start_jax_processes`: JAX's processes joined with a heartbeat timeout;
- `start_tf_workers`: `MultiWorkerMirroredStrategy` from `TF_CONFIG`;
- `process_index`, `process_count`: this process in a multi-process run;
- `unshare_variable_buffers`: after Keras' JAX `fit` with an EMA, a second
  `fit` must not donate one buffer twice.

Not branches, so not here: TensorFlow used as a library that runs the same
whatever backend trains the model -- the `tf.data` input pipeline (data/),
the text tokeniser's string ops (text.py), TensorBoard event files -- and
code that only reports the backend's name (the CLI, assessment records).
"""

import datetime
import functools
import itertools
import json
import os

import keras

KERAS_DISTRIBUTION = "keras.distribution"
# "0" turns off the XLA that the package otherwise chooses on TensorFlow:
# compiling costs more than it saves in short runs and in the tests.
TF_XLA_VARIABLE = "KSD_TF_XLA"
TF_DISTRIBUTE = "tf.distribute"
TORCH_DISTRIBUTED = "torch.distributed"
# An odd constant (2^32 / golden ratio): rank r's seeds are offset by r times
# it, which keeps the ranks' streams (seeded by seed + counter on torch) from
# meeting for hundreds of thousands of draws at any realistic world size.
_RANK_SEED_STRIDE = 0x9E3779B9
_workers_strategy = None


def compile_inference(model, function, jit_compile=None):
    """Wraps `function(*tensors)`, which reads `model`'s variables, for fast
    repeated inference on the active backend.

    - JAX: `jax.jit` with the model state passed in explicitly (through a
      `StatelessScope`), so the compiled function sees the current weights
      instead of baking them in as constants.
    - TensorFlow: `tf.function`, with XLA if `jit_compile` (None: unless
      `KSD_TF_XLA=0`, see `tensorflow_xla`).
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

        if jit_compile is None:
            jit_compile = tensorflow_xla()
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


def unshare_variable_buffers(variables):
    """Gives each variable its own array where two hold the same one.

    Keras' JAX `fit` ends by assigning the optimizer's EMA to the model's
    weights (`use_ema=True`), after which each weight and its average hold
    one array; the next `fit` donates both to its compiled step, which JAX
    refuses ("Attempt to donate the same buffer twice"). Other backends copy
    on assignment."""
    if keras.config.backend() != "jax":
        return
    import jax.numpy as jnp

    seen = set()
    for variable in variables:
        value = variable._value
        if value is None:
            continue
        if id(value) in seen:
            variable.assign(jnp.copy(value))
        seen.add(id(value))


def tensorflow_xla():
    """Whether TensorFlow compiles with XLA where the package chooses (the
    training step, sampling): yes, unless the environment sets `KSD_TF_XLA=0`."""
    value = os.environ.get(TF_XLA_VARIABLE, "1").strip()
    if value not in ("0", "1"):
        raise ValueError(f"{TF_XLA_VARIABLE} must be 0 or 1. Received: {value!r}")
    return value == "1"


def default_jit_compile(prefer_xla=True):
    """The training step's `jit_compile` when the user leaves it to us: XLA
    on TensorFlow (`tensorflow_xla`), about twice as fast a step as Keras'
    "auto" (no XLA on a CPU-only machine), unless `prefer_xla` is False (a
    network whose step runs faster as a plain graph); "auto" elsewhere
    (jit on JAX, eager on torch)."""
    if keras.config.backend() == "tensorflow":
        return prefer_xla and tensorflow_xla()
    return "auto"


def distribution_engine():
    """The engine that distributes training on the active backend:
    `KERAS_DISTRIBUTION` on JAX (and on PyTorch once Keras has a torch
    `keras.distribution` backend, 3.16), `TF_DISTRIBUTE` on TensorFlow
    (Keras' TF `keras.distribution` backend is a prototype),
    `TORCH_DISTRIBUTED` on PyTorch with Keras 3.15 (data parallel only)."""
    backend = keras.config.backend()
    if backend == "jax" or (backend == "torch" and _torch_distribution_available()):
        return KERAS_DISTRIBUTION
    if backend == "tensorflow":
        return TF_DISTRIBUTE
    if backend == "torch":
        return TORCH_DISTRIBUTED
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
    `distribution_devices()`), or the `MultiWorkerMirroredStrategy` that
    `start_tf_workers` made."""
    import tensorflow as tf

    if tpu is not None:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if _workers_strategy is not None:
        return _workers_strategy
    if tf_workers_configured():
        raise RuntimeError(
            "TF_CONFIG names several workers: call keras_simple_diffusion.distribution."
            "initialize() first thing, before any TensorFlow op runs."
        )
    return tf.distribute.MirroredStrategy(devices or distribution_devices())


def tf_workers_configured():
    """Whether `TF_CONFIG` names a cluster of several workers."""
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    except ValueError:
        raise ValueError("TF_CONFIG is not valid JSON.") from None
    return len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1


def start_tf_workers(timeout_s):
    """Creates the `MultiWorkerMirroredStrategy` of the cluster in `TF_CONFIG`
    (TensorFlow needs it before any other TF op runs, so it is made at start-up
    and `tf_distribute_strategy` returns it later). Collectives give up after
    `timeout_s` seconds, and TF's health check stops the workers when a peer
    dies, instead of hanging."""
    global _workers_strategy
    import tensorflow as tf

    if _workers_strategy is None:
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_s)
        _workers_strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        _mean_scalar_logs_over_workers()
        _reduce_each_tensor_of_a_nest(_workers_strategy)
    return _workers_strategy


def _reduce_each_tensor_of_a_nest(strategy):
    """Keras 3.15's TF `fit` first averages a batch over the replicas with
    one `strategy.reduce` of the whole (images, labels) tuple, which a
    `MultiWorkerMirroredStrategy` refuses ("Attempt to convert a value
    (PerReplica...)"); this strategy's `reduce` reduces each tensor of a
    nest instead."""
    import tensorflow as tf

    reduce = strategy.reduce

    def reduce_each(reduce_op, value, axis=None):
        return tf.nest.map_structure(lambda tensor: reduce(reduce_op, tensor, axis=axis), value)

    strategy.reduce = reduce_each


def _mean_scalar_logs_over_workers():
    """Keras 3.15's TF trainer averages the step's logs over the workers of a
    `MultiWorkerMirroredStrategy` with `strategy.reduce("MEAN", v, axis=0)`,
    which fails on the scalar logs every `fit` returns ("Invalid reduction
    dimension 0 for input with 0 dimensions"). Its module-level
    `reduce_per_replica` is replaced by one that averages over the replicas
    (axis None) in that case and is Keras' own otherwise; the multi-worker
    test fails if a Keras release renames it."""
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    keras_reduce = trainer.reduce_per_replica
    if getattr(keras_reduce, "averages_scalars_over_workers", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), values
            )
        return keras_reduce(values, strategy, reduction)

    reduce_per_replica.averages_scalars_over_workers = True
    trainer.reduce_per_replica = reduce_per_replica


def fold_in_replica_id(seed):
    """`seed` (a Keras seed state) with the replica id folded in, so that
    each replica draws its own numbers: the `tf.distribute` replica inside
    the replica context of a strategy with several replicas (TensorFlow),
    the process rank in a `torch.distributed` group of several processes
    (PyTorch); `seed` itself everywhere else (JAX, whose global arrays draw
    different numbers per shard already; one replica; outside `strategy.run`)."""
    backend = keras.config.backend()
    if backend == "torch":
        rank, world = _torch_rank_and_world()
        if world <= 1:
            return seed
        import torch

        # Keras seeds torch with first + counter: offset the first by a stride
        # far from any counter value (int32 arithmetic wraps, as seeds do).
        offset = (rank * _RANK_SEED_STRIDE) % 2**32 - 2**31
        return seed + torch.tensor([offset, 0], dtype=seed.dtype, device=seed.device)
    if backend != "tensorflow":
        return seed
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return seed
    replica = tf.cast(context.replica_id_in_sync_group, seed.dtype)
    return tf.random.experimental.stateless_fold_in(seed, replica)


def _torch_rank_and_world():
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def process_index():
    """This process' index in a multi-process run (0 in a single process):
    `jax.process_index()`, the `torch.distributed` rank, or the TF worker's
    task id."""
    return _process_index_and_count()[0]


def process_count():
    """The number of processes of the run (1 in a single process)."""
    return _process_index_and_count()[1]


def _process_index_and_count():
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        return jax.process_index(), jax.process_count()
    if backend == "torch":
        return _torch_rank_and_world()
    if backend == "tensorflow" and _workers_strategy is not None:
        resolver = _workers_strategy.cluster_resolver
        workers = len(resolver.cluster_spec().as_dict().get("worker", []))
        return resolver.task_id, max(workers, 1)
    return 0, 1


def start_jax_processes(job_addresses, num_processes, process_id, heartbeat_timeout_s):
    """`keras.distribution.initialize`, with JAX's coordination service
    declaring a process dead after `heartbeat_timeout_s` seconds without a
    heartbeat (JAX's default, 100 s, is longer than a user waits for a run
    that cannot go on); the other processes then stop with "The following
    tasks are unhealthy (stopped sending heartbeats)". Keras passes no such
    option, so its call of `jax.distributed.initialize` gets it here. CPU
    devices exchange across processes through gloo (JAX's CPU client has no
    cross-process collectives otherwise); GPUs and TPUs keep their own."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    initialize = jax.distributed.initialize
    jax.distributed.initialize = functools.partial(
        initialize, heartbeat_timeout_seconds=heartbeat_timeout_s
    )
    try:
        keras.distribution.initialize(job_addresses, num_processes, process_id)
    finally:
        jax.distributed.initialize = initialize


def start_torch_processes(timeout_s):
    """Joins the `torch.distributed` group that `torchrun` launched (its
    environment: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK):
    NCCL with one GPU per process where there are GPUs, else gloo. A
    collective that waits over `timeout_s` seconds (a hung peer) raises
    instead of hanging; a peer that dies closes its connections, which
    fails the others' next collective at once. Returns `(rank, world)`."""
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(
            "nccl" if torch.cuda.is_available() else "gloo",
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    return dist.get_rank(), dist.get_world_size()


class PeerProcessFailed(RuntimeError):
    """A collective across the processes failed: a peer stopped or hung."""


def _collective(operation, *args, **kwargs):
    # A torch collective whose failure (gloo: "Connection closed by peer",
    # NCCL / gloo timeouts) is reported in one clear line.
    try:
        return operation(*args, **kwargs)
    except RuntimeError as error:
        rank, world = _torch_rank_and_world()
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PeerProcessFailed(
            f"process {rank} of {world}: a collective across the processes failed, so "
            f"another process stopped or hung ({first}); the run stops. Resume it from "
            "its last backup with --resume."
        ) from None


def barrier(strategy=None):
    """Waits for every process of a multi-process run: `torch.distributed`'s
    barrier, JAX's `sync_global_devices`, or a tiny all-reduce over the
    `tf.distribute` `strategy`'s workers."""
    backend = keras.config.backend()
    if backend == "torch":
        import torch.distributed as dist

        if _torch_rank_and_world()[1] > 1:
            _collective(dist.barrier)
    elif backend == "jax":
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("keras_simple_diffusion")
    elif strategy is not None:
        import tensorflow as tf

        strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)


def synchronise_torch_training(model):
    """Data parallelism across `torch.distributed` processes inside Keras' own
    `fit`, its callbacks and its run folder.

    Keras 3.15's `fit` on torch runs its own train step, which cannot run
    under `DistributedDataParallel` (DDP wraps a `torch.nn.Module`'s forward;
    Keras' step calls the model, `backward` and the optimizer itself). What
    DDP does is done here around that step instead:

    - the model's variables (weights, seed states) are broadcast from rank 0,
      so every rank starts from the same state;
    - the optimizer's `apply` averages the gradients over the ranks first
      (one all-reduce of all of them, flattened), so every rank applies the
      same update, and the optimizer state and EMA stay identical;
    - the train step's logs (the loss) are averaged over the ranks, so every
      rank's callbacks see the global loss and stop at the same period.

    The loss is each rank's mean over its share of the batch; the ranks' shares
    are equal, so the averaged gradient is the gradient of the global batch's
    mean loss, as in one process. Returns `model`.
    """
    import torch
    import torch.distributed as dist

    rank, world = _torch_rank_and_world()
    if world <= 1:
        return model
    with torch.no_grad():
        for variable in model.variables:
            _collective(dist.broadcast, variable.value.data, src=0)

    optimizer = model.optimizer
    apply = optimizer.apply

    def apply_averaged(grads, trainable_variables=None):
        # A variable without a gradient on any rank keeps None (Keras then
        # skips it, as in one process): the flags count the ranks that had one.
        flags = torch.tensor([g is not None for g in grads], dtype=torch.float32)
        parts = [
            (g if g is not None else torch.zeros_like(v.value)).reshape(-1).float()
            for g, v in zip(grads, trainable_variables)
        ]
        flat = torch.cat(parts + [flags.to(parts[0].device)])
        _collective(dist.all_reduce, flat)
        flat /= world
        had_gradient = (flat[-len(grads) :] > 0).tolist()
        averaged, offset = [], 0
        for had, variable in zip(had_gradient, trainable_variables):
            size = variable.value.numel()
            part = flat[offset : offset + size].reshape(variable.value.shape)
            averaged.append(part.to(variable.value.dtype) if had else None)
            offset += size
        return apply(averaged, trainable_variables)

    optimizer.apply = apply_averaged
    train_step = model.train_step

    def train_step_with_global_logs(data):
        logs = train_step(data)
        names = [name for name, value in logs.items() if torch.is_tensor(value)]
        if names:
            values = torch.stack([logs[name].detach().float().reshape(()) for name in names])
            _collective(dist.all_reduce, values)
            logs.update(zip(names, values / world))
        return logs

    model.train_step = train_step_with_global_logs
    return model
