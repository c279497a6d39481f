"""Measurements on one Keras backend, run in its own process.

    KERAS_BACKEND=jax python -m benchmarks.worker --profile quick [--only train,sample,matmul]

Prints one `RESULT {json}` line per measurement (the runner collects them).
`measure_backend(...)` runs the same in-process (the smoke test does).
"""

import argparse
import functools
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


def flops_jax(model, x, detail=None):
    """FLOPs of the stateless Keras train step from XLA's cost analysis, or
    None when no analysis gives a count (a missing figure, never an error).

    Tried in order: the lowered module on the default platform (free on the
    CPU; the compiled one differs by about 1-2%); the same step lowered for
    the CPU from abstract shapes (no device memory, no compile; the GPU's
    `Lowered.cost_analysis()` can return None); the compiled module's
    analysis. `detail` (a dict) gets the source or the failures."""
    import jax

    detail = {} if detail is None else detail
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    step = jax.jit(model.train_step)

    def first(analysis):
        if isinstance(analysis, (list, tuple)):
            analysis = analysis[0] if analysis else None
        flops = analysis.get("flops") if isinstance(analysis, dict) else None
        return float(flops) if flops and flops > 0 else None

    def lowered():
        return step.lower(state, (x,))

    def lowered_cpu():
        abstract = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), (state, (x,))
        )
        return step.trace(*abstract).lower(lowering_platforms=("cpu",))

    def compiled():
        return lowered().compile()

    for name, make in (
        ("lowered", lowered),
        ("lowered for cpu", lowered_cpu),
        ("compiled", compiled),
    ):
        try:
            flops = first(make().cost_analysis())
        except Exception as e:  # noqa: BLE001 - try the next source
            detail.setdefault("failures", []).append(f"{name}: {type(e).__name__}: {str(e)[:120]}")
            continue
        if flops:
            detail["source"] = name
            return flops
        detail.setdefault("failures", []).append(f"{name}: no flops in the analysis")
    return None


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


def _flops_jax_record(model, x):
    """`flops_xla` (None when no analysis counts: the table shows '-') and
    where it came from; never raises, so a failed count keeps the timing."""
    detail = {}
    try:
        flops = flops_jax(model, x, detail)
    except Exception as e:  # noqa: BLE001
        flops, detail = None, dict(failures=[f"{type(e).__name__}: {str(e)[:200]}"])
    out = dict(flops_xla=flops)
    if detail.get("source"):
        out["flops_xla_source"] = detail["source"]
    if flops is None:
        out["flops_xla_error"] = "; ".join(detail.get("failures", []))[:400] or "no count"
    return out


# --------------------------------------------------------------------------
# Training throughput.
# --------------------------------------------------------------------------

# torch.compile through Keras (jit_compile=True): Keras' torch layers break
# the graph at nearly every layer call, so dynamo compiles each layer's `call`
# frame on its own and sees one Conv2D.call with 32 x 32 and 16 x 16 inputs.
# Its automatic dynamic shapes then recompile that frame with symbolic H, W,
# and inductor fails to lower the backward of the stride-2 "same" conv
# (Keras pads by a symbolic amount, Max(0, ...)): "InductorError:
# LoweringException: ValueRangeError: Invalid ranges [0:-1]" in
# aten.convolution_backward (torch 2.13; benchmarks/README.md has a
# Keras-free reproduction). Static shapes (one specialisation per shape) and
# a fresh dynamo cache per row avoid it; frames past dynamo's recompile
# limit run eagerly.


def torch_compile_setup():
    """Static shapes and an empty dynamo cache before a torch.compile row."""
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.config.automatic_dynamic_shapes = False
    try:  # a warm on-disk inductor cache makes the compile much shorter
        from torch._inductor.runtime.cache_dir_utils import cache_dir

        path = cache_dir()
        warm = os.path.isdir(path) and any(os.scandir(path))
    except Exception:  # noqa: BLE001
        path, warm = None, None
    return dict(
        automatic_dynamic_shapes=False,
        recompile_limit=getattr(torch._dynamo.config, "recompile_limit", None),
        inductor_cache_dir=path,
        inductor_cache_warm=warm,
    )


def describe_error(e):
    """A one-line error for a table row; known torch bugs are named."""
    text = f"{type(e).__name__}: {str(e)[:300]}"
    if "ValueRangeError" in text and "Invalid ranges" in text:
        text = (
            "torch inductor bug with dynamic shapes (conv backward after a symbolic pad; "
            "see benchmarks/README.md): " + text
        )
    return text


def bench_train(arch, size, setting, jit_compile, profile, steps=None, warmup=None, batch=None):
    p = common.PROFILES[profile]
    steps = steps or p["steps"]
    warmup = p["warmup"] if warmup is None else warmup
    batch = batch or p["batch"]
    backend = _backend()
    record = dict(
        kind="train",
        backend=backend,
        arch=arch,
        image_size=size,
        batch=batch,
        setting=setting,
        jit_compile=jit_compile,
        model=common.model_kwargs(arch, size, profile),
    )
    x = _images(batch, size)
    if backend == "torch" and jit_compile is True:
        record["torch_compile"] = torch_compile_setup()
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
        record.update(_flops_jax_record(model, x))
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

    # A class-conditional denoiser draws unconditional samples from its null class.
    num_classes = model.num_classes
    labels = {"class_labels": ops.full((batch,), num_classes, "int32")} if num_classes else {}

    def step(z, logsnr_t, logsnr_s, noise):
        inputs = {"images": z, "noise_level": ops.full((batch,), logsnr_t), **labels}
        out = model.denoiser(inputs, training=False)
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
        z = step(
            z,
            ops.convert_to_tensor(logsnrs[i]),
            ops.convert_to_tensor(logsnrs[i + 1]),
            ops.convert_to_tensor(noise),
        )
    return ops.convert_to_numpy(ops.clip(z, -1.0, 1.0))


def bench_sample(arch, profile):
    import contextlib

    import numpy as np

    from keras_simple_diffusion.backend import compile_inference

    p = common.PROFILES[profile]
    batch, steps, size = p["sample_batch"], p["sample_steps"], p["sample_size"]
    backend = _backend()
    model = _model(arch, size, profile, "auto")
    record = dict(
        kind="sample",
        backend=backend,
        arch=arch,
        image_size=size,
        batch=batch,
        steps=steps,
        sampler="ancestral",
    )

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
        record["note"] = (
            "torch: all three are eager (no_grad); compile_inference does not compile on torch"
        )
    return record


# --------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------


def capped_row(profile, arch, size, setting, cap_s, steps=None, warmup=None):
    """One training row in a child process (same backend), killed with its
    compile workers after `cap_s` seconds; returns its records (or the error)."""
    import pathlib
    import signal
    import subprocess

    root = pathlib.Path(__file__).resolve().parent.parent
    command = [
        sys.executable,
        "-m",
        "benchmarks.worker",
        "--profile",
        profile,
        "--only",
        "train",
        "--archs",
        arch,
        "--sizes",
        str(size),
        "--settings",
        setting,
        "--no-cap",
    ]
    command += (["--steps", str(steps)] if steps else []) + (
        ["--warmup", str(warmup)] if warmup is not None else []
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    }
    proc = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=cap_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the child and its inductor compile workers
        proc.communicate()
        return [
            dict(
                error=f"compile cap: no result within {cap_s:.0f} s (compile + steps); not measured"
            )
        ]
    sys.stderr.write(stderr[-20000:])
    records = [r for r in common.parse_results(stdout) if r.get("kind") == "train"]
    if not records:
        tail = (stderr.strip().splitlines() or ["?"])[-1][:300]
        return [dict(error=f"child exited {proc.returncode} without a result: {tail}")]
    for r in records:
        r["compile_cap_s"] = cap_s
    return records


def measure_backend(
    profile,
    only=("matmul", "train", "sample"),
    archs=None,
    sizes=None,
    emit=common.emit,
    deadline=None,
    steps=None,
    warmup=None,
    settings=None,
    capped=True,
):
    """Runs this process' backend's measurements; calls `emit(record)` for each.
    `steps` / `warmup` override the profile's timed and warm-up steps;
    `settings` (substrings of setting names) picks some compile settings;
    `capped=False` runs rows with a compile cap in this process, uncapped."""
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
            emit(dict(ids, backend=backend, error=describe_error(e)))

    emit(
        dict(
            kind="info",
            backend=backend,
            versions=common.versions(backend),
            machine=common.machine_info(),
        )
    )
    if "matmul" in only:
        guarded(
            lambda: dict(
                kind="matmul",
                backend=backend,
                n=p["matmul_n"],
                flops_per_s=common.matmul_flops(p["matmul_n"], p["matmul_repeats"], backend),
            ),
            kind="matmul",
        )
    if "flops" in only:  # FLOPs alone (JAX), for runs without the JAX backend
        for size in sizes:
            for arch in archs:

                def count(arch=arch, size=size):
                    batch = common.batch_for(profile, size)
                    model = _model(arch, size, profile, "auto")
                    x = _images(batch, size)
                    model._symbolic_build(data_batch=(x,))
                    return dict(
                        kind="flops",
                        arch=arch,
                        image_size=size,
                        batch=batch,
                        **_flops_jax_record(model, x),
                    )

                guarded(count, kind="flops", arch=arch, image_size=size)

    def train(setting, jit_compile):
        for size in common.sizes_for(profile, setting, sizes):
            for arch in archs:
                cap = p.get("compile_cap_s", {}).get(setting) if capped else None
                if cap:  # in a child process, killed past the cap
                    ids = dict(kind="train", arch=arch, image_size=size, setting=setting)
                    if deadline is not None and time.time() > deadline:
                        emit(
                            dict(
                                ids,
                                backend=backend,
                                error="skipped: the backend's time budget ran out",
                            )
                        )
                        continue
                    for r in capped_row(profile, arch, size, setting, cap, steps, warmup):
                        emit({**ids, "backend": backend, **r})
                    continue
                guarded(
                    functools.partial(
                        bench_train,
                        arch,
                        size,
                        setting,
                        jit_compile,
                        profile,
                        steps=steps,
                        warmup=warmup,
                        batch=common.batch_for(profile, size),
                    ),
                    kind="train",
                    arch=arch,
                    image_size=size,
                    setting=setting,
                )

    # Order: the default setting, then sampling, then the other settings, so
    # that a budget running out (slow compiles) costs the optional rows only.
    chosen = [
        (s_, j)
        for s_, j in common.settings_for(backend, profile)
        if not settings or any(x in s_ for x in settings)
    ]
    if "train" in only:
        for setting, jit_compile in chosen[:1]:
            train(setting, jit_compile)
    if "sample" in only:
        for arch in [a for a in archs if a in p.get("sample_archs", archs)]:
            guarded(functools.partial(bench_sample, arch, profile), kind="sample", arch=arch)
    if "train" in only:
        for setting, jit_compile in chosen[1:]:
            train(setting, jit_compile)
    emit(dict(kind="done", backend=backend, machine=common.machine_info()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=sorted(common.PROFILES))
    parser.add_argument("--only", default="matmul,train,sample")
    parser.add_argument("--archs", default=None)
    parser.add_argument("--sizes", default=None)
    parser.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="skip measurements that would start after this many seconds",
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps (default: the profile's)"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="warm-up steps (default: the profile's)"
    )
    parser.add_argument(
        "--settings", default=None, help="only settings whose names contain one of these"
    )
    parser.add_argument(
        "--no-cap", action="store_true", help="run capped rows here, without the cap"
    )
    args = parser.parse_args()
    deadline = time.time() + args.budget_s if args.budget_s else None
    measure_backend(
        args.profile,
        only=args.only.split(","),
        archs=args.archs.split(",") if args.archs else None,
        sizes=[int(s) for s in args.sizes.split(",")] if args.sizes else None,
        deadline=deadline,
        steps=args.steps,
        warmup=args.warmup,
        settings=args.settings.split(",") if args.settings else None,
        capped=not args.no_cap,
    )
    sys.stdout.flush()
    os._exit(0)  # skip slow interpreter teardown of TF / torch.compile workers


if __name__ == "__main__":
    main()
