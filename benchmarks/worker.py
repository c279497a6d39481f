"""Measurements on one Keras backend, run in its own process.

    KERAS_BACKEND=jax python -m benchmarks.worker --profile quick [--only train,sample,matmul]

Prints one `RESULT {json}` line per measurement (the runner collects them).
`measure_backend(...)` runs the same in-process (the smoke test does).
"""

import argparse
import os
import sys
import time
import traceback

from benchmarks import common


def _backend():
    import keras

    return keras.config.backend()


def _images(batch, size, seed=0):
    import numpy as np

    return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype("float32")


def _model(arch, size, profile, jit_compile):
    import keras

    import keras_simple_diffusion as ksd

    keras.utils.set_random_seed(0)
    model = ksd.SimpleDiffusion(common.build_denoiser(arch, size, profile), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit_compile)
    return model


# --------------------------------------------------------------------------
# FLOPs of one training step.
# --------------------------------------------------------------------------


def flops_jax(model, x):
    """FLOPs of the stateless Keras train step from XLA's cost analysis of
    the lowered computation (the compiled one differs by about 1-2%)."""
    import jax

    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    lowered = jax.jit(model.train_step).lower(state, (x,))

    def first(analysis):
        if isinstance(analysis, (list, tuple)):
            analysis = analysis[0] if analysis else None
        return analysis if analysis and analysis.get("flops") else None

    # The lowered module's analysis is free on the CPU; on GPU it can be
    # None (seen on an H200 with jax 0.11), so fall back to the compiled one.
    analysis = first(lowered.cost_analysis()) or first(lowered.compile().cost_analysis())
    return float(analysis["flops"]) if analysis else None


def flops_torch_counter(model, x):
    """Matmul/conv/attention FLOPs of forward + backward of the loss, counted
    by `torch.utils.flop_counter.FlopCounterMode` (elementwise ops and the
    optimizer update are not counted): the same counter as the diffusers peer."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    xt = torch.as_tensor(x)
    counter = FlopCounterMode(display=False)
    with counter:
        loss = model.compute_loss(x=xt, training=True)
        loss.backward()
    for v in model.trainable_variables:
        v.value.grad = None
    return float(counter.get_total_flops())


# --------------------------------------------------------------------------
# Training throughput.
# --------------------------------------------------------------------------


def bench_train(arch, size, setting, jit_compile, profile, steps=None, warmup=None, batch=None):
    p = common.PROFILES[profile]
    steps = steps or p["steps"]
    warmup = p["warmup"] if warmup is None else warmup
    batch = batch or p["batch"]
    backend = _backend()
    record = dict(kind="train", backend=backend, arch=arch, image_size=size, batch=batch,
                  setting=setting, jit_compile=jit_compile, model=common.model_kwargs(arch, size, profile))
    x = _images(batch, size)
    model = _model(arch, size, profile, jit_compile)
    start = time.perf_counter()
    logs = model.train_on_batch(x, return_dict=True)
    first = time.perf_counter() - start
    for _ in range(warmup):
        model.train_on_batch(x)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        logs = model.train_on_batch(x, return_dict=True)
        times.append(time.perf_counter() - start)
    stats = common.summarize(times)
    record.update(
        parameters=int(model.denoiser.count_params()),
        first_step_s=first,
        compile_s=max(first - stats["median_s"], 0.0),
        step=stats,
        ms_per_step=1e3 * stats["median_s"],
        images_per_s=batch / stats["median_s"],
        loss=float(logs["loss"]),
    )
    if backend == "jax":
        record["flops_xla"] = flops_jax(model, x)
    if backend == "torch" and jit_compile == "auto":
        try:
            record["flops_torch_counter"] = flops_torch_counter(model, x)
        except Exception as e:  # noqa: BLE001 - a count is optional
            record["flops_torch_counter_error"] = repr(e)[:200]
    return record


# --------------------------------------------------------------------------
# Sampling throughput: the compiled loop against per-step Python loops.
# --------------------------------------------------------------------------


def _step_function(model, batch):
    """One ancestral step `(z, logsnr_t, logsnr_s, noise) -> z_s` as the
    package's `generate` computes it (v-prediction, x_hat clipped)."""
    from keras import ops

    from keras_simple_diffusion.parametrization import denoised
    from keras_simple_diffusion.samplers import ancestral_step
    from keras_simple_diffusion.schedules import alpha_sigma

    def step(z, logsnr_t, logsnr_s, noise):
        out = model.denoiser(
            {"images": z, "noise_level": ops.full((batch,), logsnr_t)}, training=False
        )
        alpha, sigma = alpha_sigma(logsnr_t)
        x_hat, _ = denoised(model.prediction, ops.cast(out, "float32"), z, alpha, sigma)
        x_hat = ops.clip(x_hat, -1.0, 1.0)
        return ancestral_step(z, x_hat, logsnr_t, logsnr_s, noise)

    return step


def python_loop(model, batch, steps, step, seed=0):
    """Samples with a Python `for` loop, one `step` call per sampler step."""
    import numpy as np
    from keras import ops

    from keras_simple_diffusion.samplers import time_grid

    logsnrs = ops.convert_to_numpy(model.schedule(time_grid(steps))).astype("float32")
    rng = np.random.default_rng(seed)
    shape = (batch,) + model.image_shape
    z = ops.convert_to_tensor(rng.standard_normal(shape, dtype="float32"))
    for i in range(steps):
        noise = rng.standard_normal(shape, dtype="float32") * (0.0 if i == steps - 1 else 1.0)
        z = step(z, ops.convert_to_tensor(logsnrs[i]), ops.convert_to_tensor(logsnrs[i + 1]),
                 ops.convert_to_tensor(noise))
    return ops.convert_to_numpy(ops.clip(z, -1.0, 1.0))


def bench_sample(arch, profile):
    import contextlib

    import numpy as np

    from keras_simple_diffusion.backend import compile_inference

    p = common.PROFILES[profile]
    batch, steps, size = p["sample_batch"], p["sample_steps"], p["sample_size"]
    backend = _backend()
    model = _model(arch, size, profile, "auto")
    record = dict(kind="sample", backend=backend, arch=arch, image_size=size, batch=batch,
                  steps=steps, sampler="ancestral")

    def run(fn):
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        assert np.all(np.isfinite(out))
        return elapsed

    # 1. The package's compiled loop (ops.fori_loop inside one compiled call;
    #    eager under torch.no_grad on torch).
    generate = lambda: model.generate(num_images=batch, steps=steps, seed=0)  # noqa: E731
    first = run(generate)
    compiled_s = min(run(generate) for _ in range(2))
    # 2. A Python loop of eager steps (each step runs the denoiser op by op).
    step = _step_function(model, batch)
    if backend == "torch":
        import torch

        no_grad = torch.no_grad
    else:
        no_grad = contextlib.nullcontext
    with no_grad():
        eager_s = run(lambda: python_loop(model, batch, steps, step))
    # 3. A Python loop of compiled steps (jax.jit / tf.function with XLA; eager on torch).
    compiled_step = compile_inference(model, step)
    first_step_loop = run(lambda: python_loop(model, batch, 2, compiled_step))
    step_loop_s = run(lambda: python_loop(model, batch, steps, compiled_step))
    record.update(
        compiled_loop_s=compiled_s,
        compiled_loop_compile_s=max(first - compiled_s, 0.0),
        python_loop_eager_s=eager_s,
        python_loop_compiled_steps_s=step_loop_s,
        python_loop_compiled_steps_first_s=first_step_loop,
        images_per_s=dict(
            compiled_loop=batch / compiled_s,
            python_loop_eager=batch / eager_s,
            python_loop_compiled_steps=batch / step_loop_s,
        ),
        speedup_vs_eager_loop=eager_s / compiled_s,
        speedup_vs_compiled_step_loop=step_loop_s / compiled_s,
    )
    if backend == "torch":
        record["note"] = "torch: all three are eager (no_grad); compile_inference does not compile on torch"
    return record


# --------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------


def measure_backend(profile, only=("matmul", "train", "sample"), archs=None, sizes=None, emit=common.emit,
                    deadline=None):
    """Runs this process' backend's measurements; calls `emit(record)` for each."""
    backend = _backend()
    p = common.PROFILES[profile]
    archs = archs or list(p["archs"])
    sizes = sizes or p["sizes"]

    def guarded(fn, **ids):
        if deadline is not None and time.time() > deadline:
            emit(dict(ids, backend=backend, error="skipped: the backend's time budget ran out"))
            return
        try:
            emit(fn())
        except Exception as e:  # noqa: BLE001 - report, then go on with the next one
            traceback.print_exc()
            emit(dict(ids, backend=backend, error=f"{type(e).__name__}: {str(e)[:300]}"))

    emit(dict(kind="info", backend=backend, versions=common.versions(backend), machine=common.machine_info()))
    if "matmul" in only:
        guarded(lambda: dict(kind="matmul", backend=backend, n=p["matmul_n"],
                             flops_per_s=common.matmul_flops(p["matmul_n"], p["matmul_repeats"], backend)),
                kind="matmul")
    if "flops" in only:  # FLOPs alone (JAX), for runs without the JAX backend
        for size in sizes:
            for arch in archs:
                def count(arch=arch, size=size):
                    model = _model(arch, size, profile, "auto")
                    x = _images(p["batch"], size)
                    model._symbolic_build(data_batch=(x,))
                    return dict(kind="flops", arch=arch, image_size=size, batch=p["batch"],
                                flops_xla=flops_jax(model, x))
                guarded(count, kind="flops", arch=arch, image_size=size)
    if "train" in only:
        # Settings outermost: when the time budget runs out, the defaults are done.
        for setting, jit_compile in common.settings_for(backend, profile):
            for size in sizes:
                for arch in archs:
                    guarded(lambda: bench_train(arch, size, setting, jit_compile, profile),
                            kind="train", arch=arch, image_size=size, setting=setting)
    if "sample" in only:
        for arch in archs:
            guarded(lambda: bench_sample(arch, profile), kind="sample", arch=arch)
    emit(dict(kind="done", backend=backend, machine=common.machine_info()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=sorted(common.PROFILES))
    parser.add_argument("--only", default="matmul,train,sample")
    parser.add_argument("--archs", default=None)
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--budget-s", type=float, default=None,
                        help="skip measurements that would start after this many seconds")
    args = parser.parse_args()
    deadline = time.time() + args.budget_s if args.budget_s else None
    measure_backend(
        args.profile,
        only=args.only.split(","),
        archs=args.archs.split(",") if args.archs else None,
        sizes=[int(s) for s in args.sizes.split(",")] if args.sizes else None,
        deadline=deadline,
    )
    sys.stdout.flush()
    os._exit(0)  # skip slow interpreter teardown of TF / torch.compile workers


if __name__ == "__main__":
    main()
