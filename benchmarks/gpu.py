"""The prepared GPU run (NVIDIA H100 / H200): per-backend bf16 training
throughput at 128 and 256 px and MFU against the card's bf16 dense peak.

    python3 benchmarks/gpu.py --out "$OUT"          # what benchmarks/gpu.sh runs
    python3 benchmarks/gpu.py --cpu-smoke --out /tmp/g   # tiny models on the CPU (a code check)

Each backend runs in its own subprocess with a timeout (default budget: under
8 minutes end to end); a backend that is missing or has no GPU there is
reported, not fatal. Mixed bfloat16 (`mixed_bfloat16`: bf16 compute, float32
variables), Adam, the package's default v-prediction loss; `model.fit` on a
repeated in-memory batch, one epoch to compile and two timed epochs.
FLOPs per step come from XLA's cost analysis of the stateless train step
(JAX worker) and are used for every backend (same model, same math); where
JAX did not run, from torch's FlopCounterMode. MFU = achieved FLOP/s / the
card's bf16 dense peak (989.4 TFLOP/s for H100 SXM and H200, datasheet);
the card's measured 8192^3 bf16 matmul is reported beside it.

Writes `<out>/gpu_<card>.json` and `<out>/gpu_<card>.md`.
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

# bf16 dense (no sparsity) peaks from NVIDIA's datasheets, TFLOP/s.
PEAKS = {
    "H100 SXM": 989.4,
    "H100 80GB HBM3": 989.4,
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
}

# GPU-sized models: the paper-like presets (unet-256, uvit-256) with early
# downsampling to 64 x 64 at both sizes (DWT by 2 at 128 px, by 4 at 256 px).
GPU_MODELS = {
    "uvit": ("uvit-256", dict(dropout=0.0)),
    "unet": ("unet-256", dict(dropout=0.0)),
}
CPU_SMOKE = dict(widths=(8,), num_res_blocks=1, embedding_dim=16, groups=4, dropout=0.0)


def emit(record):
    print("RESULT " + json.dumps(record), flush=True)


def card_name():
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        return out.splitlines()[0] if out else None
    except (OSError, subprocess.SubprocessError):
        return None


def peak_for(card):
    if not card:
        return None, None
    for key, peak in PEAKS.items():
        if key.split()[0] in card and all(part in card for part in key.split()[1:]):
            return peak, key
    if "H100" in card or "H200" in card:
        return 989.4, "Hopper SXM (assumed)"
    return None, None


# --------------------------------------------------------------------------
# One backend (subprocess).
# --------------------------------------------------------------------------


def has_gpu(backend):
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices()), str(jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available(), torch.cuda.get_device_name(
            0
        ) if torch.cuda.is_available() else "no CUDA"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return bool(gpus), str(gpus)


def matmul_bf16(backend, n=8192, repeats=10):
    """TFLOP/s of an n^3 bf16 matmul on the GPU (mean of `repeats` after warm-up)."""
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        a = jax.random.normal(jax.random.key(0), (n, n), jnp.bfloat16)
        b = jax.random.normal(jax.random.key(1), (n, n), jnp.bfloat16)
        mm = jax.jit(lambda x, y: x @ y)
        for _ in range(3):
            mm(a, b).block_until_ready()
        start = time.perf_counter()
        for _ in range(repeats):
            c = mm(a, b)
        c.block_until_ready()
    elif backend == "torch":
        import torch

        a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        for _ in range(3):
            a @ b
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        torch.cuda.synchronize()
    else:
        import tensorflow as tf

        with tf.device("/GPU:0"):
            a = tf.cast(tf.random.normal((n, n)), tf.bfloat16)
            b = tf.cast(tf.random.normal((n, n)), tf.bfloat16)
            mm = tf.function(lambda x, y: tf.linalg.matmul(x, y), jit_compile=True)
            for _ in range(3):
                mm(a, b).numpy()
            start = time.perf_counter()
            for _ in range(repeats):
                c = mm(a, b)
            c.numpy()
    return 2.0 * n**3 * repeats / (time.perf_counter() - start) / 1e12


def build(arch, size, cpu_smoke):
    from keras_simple_diffusion.models import UNet, UViT, build_denoiser

    if cpu_smoke:
        extra = (
            dict(transformer_width=16, transformer_depth=1, num_heads=2)
            if arch == "uvit"
            else dict(bottom_width=16, bottom_blocks=1, num_heads=2, attention_max_resolution=8)
        )
        return (UViT if arch == "uvit" else UNet)(
            image_size=size, channels=3, downsample="dwt", downsample_factor=2, **CPU_SMOKE, **extra
        )
    preset, overrides = GPU_MODELS[arch]
    return build_denoiser(
        preset, image_size=size, downsample="dwt", downsample_factor=size // 64, **overrides
    )


class EpochTimes:
    def __init__(self):
        import keras

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(cb, epoch, logs=None):
                cb.start = time.perf_counter()

            def on_epoch_end(cb, epoch, logs=None):
                self.times.append(time.perf_counter() - cb.start)
                self.losses.append(float((logs or {}).get("loss", float("nan"))))

        self.times, self.losses = [], []
        self.callback = Callback()


def bench(backend, arch, size, batch, setting, jit_compile, steps, cpu_smoke, flash=None):
    """One training row; `flash` False builds the model with Keras' flash
    attention off (`keras.config.disable_flash_attention`), None leaves
    Keras' default."""
    import keras
    import numpy as np

    import keras_simple_diffusion as ksd
    from benchmarks import worker

    if backend == "torch" and jit_compile is True:  # static shapes: see worker.torch_compile_setup
        worker.torch_compile_setup()
    keras.utils.set_random_seed(0)
    if flash is False:
        keras.config.disable_flash_attention()
    try:
        model = ksd.SimpleDiffusion(build(arch, size, cpu_smoke), seed=0)
    finally:
        keras.config.enable_flash_attention()
    model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit_compile)
    x = np.random.default_rng(0).uniform(-1, 1, (batch * steps, size, size, 3)).astype("float32")
    timer = EpochTimes()
    model.fit(x, batch_size=batch, epochs=3, shuffle=False, verbose=0, callbacks=[timer.callback])
    step_s = min(timer.times[1:]) / steps
    record = dict(
        kind="train",
        backend=backend,
        arch=arch,
        image_size=size,
        batch=batch,
        setting=setting,
        precision=keras.config.dtype_policy().name,
        parameters=int(model.denoiser.count_params()),
        step_s=step_s,
        ms_per_step=1e3 * step_s,
        images_per_s=batch / step_s,
        compile_s=max(timer.times[0] - step_s * steps, 0.0),
        epoch_s=timer.times,
        loss=timer.losses[-1],
    )
    xb = x[:batch]
    if backend == "jax":  # never raises: a missing count is '-' in the table, the timing stays
        record.update(worker._flops_jax_record(model, xb))
    elif backend == "torch" and jit_compile == "auto":
        try:
            import torch

            record["flops_torch_counter"] = worker.flops_torch_counter(
                model, torch.as_tensor(xb).cuda() if torch.cuda.is_available() else xb
            )
        except Exception as e:  # noqa: BLE001
            record["flops_torch_counter_error"] = repr(e)[:200]
    return record


# Each backend's rows: (key for --settings, label, jit_compile, flash
# attention: None for Keras' default, False for off).
SETTINGS = {
    "jax": [("jit", "jit (default)", "auto", None)],
    "tensorflow": [("xla", "jit_compile=True (XLA)", True, None)],
    "torch": [
        ("eager", "eager (default)", "auto", None),
        ("compile", "torch.compile", True, None),
        ("compile-noflash", "torch.compile, flash attention off", True, False),
    ],
}
# The rows of a plain run; `compile-noflash` tells whether Keras' flash
# attention path is what torch.compile fails on.
DEFAULT_SETTINGS = ("jit", "xla", "eager", "compile")


def one_backend(backend, args):
    deadline = time.time() + args.budget_s
    try:
        import keras
    except ImportError as e:
        emit(dict(kind="error", backend=backend, error=f"keras is not importable: {e}"))
        return
    try:
        gpu, devices = has_gpu(backend)
    except Exception as e:  # noqa: BLE001 (e.g. the backend is not installed)
        emit(
            dict(
                kind="error",
                backend=backend,
                error=f"{backend} is not usable here: {type(e).__name__}: {e}",
            )
        )
        return
    emit(
        dict(
            kind="info",
            backend=backend,
            devices=devices,
            keras=keras.__version__,
            version=__import__(backend).__version__,
        )
    )
    if not gpu and not args.cpu_smoke:
        emit(dict(kind="error", backend=backend, error=f"{backend} sees no GPU here ({devices})"))
        return
    if not args.cpu_smoke:
        try:
            emit(dict(kind="matmul", backend=backend, n=8192, tflops=matmul_bf16(backend)))
        except Exception as e:  # noqa: BLE001
            emit(
                dict(
                    kind="error",
                    backend=backend,
                    error=f"matmul: {type(e).__name__}: {str(e)[:200]}",
                )
            )
    from benchmarks import worker

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    settings = [row for row in SETTINGS[backend] if row[0] in args.settings]
    sizes = [32] if args.cpu_smoke else args.sizes
    archs = args.archs
    for _, setting, jit_compile, flash in settings:
        for arch in archs:  # U-ViT at both sizes first: the budget may not cover all
            for size in sizes:
                batch = args.batch if not args.cpu_smoke else 2
                if time.time() > deadline:
                    emit(
                        dict(
                            kind="train",
                            backend=backend,
                            arch=arch,
                            image_size=size,
                            setting=setting,
                            error="skipped: this backend's time budget ran out",
                        )
                    )
                    continue
                try:
                    emit(
                        bench(
                            backend,
                            arch,
                            size,
                            batch,
                            setting,
                            jit_compile,
                            2 if args.cpu_smoke else args.steps,
                            args.cpu_smoke,
                            flash,
                        )
                    )
                except Exception as e:  # noqa: BLE001
                    traceback.print_exc()
                    emit(
                        dict(
                            kind="train",
                            backend=backend,
                            arch=arch,
                            image_size=size,
                            setting=setting,
                            error=worker.describe_error(e),
                        )
                    )


# --------------------------------------------------------------------------
# The driver.
# --------------------------------------------------------------------------


def write(results, out):
    card = results["card"] or "no-gpu"
    slug = re.sub(r"[^A-Za-z0-9]+", "_", card.split(",")[0]).strip("_")
    out.mkdir(parents=True, exist_ok=True)
    train = [r for r in results["records"] if r.get("kind") == "train" and "error" not in r]
    # The best count of each shape's FLOPs: XLA's analysis of the module before
    # optimisation, then torch's FlopCounterMode, and the compiled module's
    # analysis last: on a GPU that one leaves out the matmuls and convolutions
    # handed to cuBLAS and cuDNN (the H200's U-ViT step: 1.12 TFLOP against
    # the counter's 7.95 and 6 x parameters x tokens of about 7).
    ranked = []
    for r in train:
        key = (r["arch"], r["image_size"], r["batch"])
        if r.get("flops_xla"):
            compiled = r.get("flops_xla_source") == "compiled"
            ranked.append((2 if compiled else 0, key, "XLA cost analysis", r["flops_xla"]))
        if r.get("flops_torch_counter"):
            ranked.append((1, key, "torch FlopCounterMode", r["flops_torch_counter"]))
    flops = {}
    for _, key, source, count in sorted(ranked, key=lambda item: item[0]):
        flops.setdefault(key, (source, count))
    peak = results["peak_tflops"]
    for r in train:
        source, f = flops.get((r["arch"], r["image_size"], r["batch"]), (None, None))
        r["flops_per_step"], r["flops_source"] = f, source
        if f:
            r["tflops"] = f / r["step_s"] / 1e12
            r["mfu"] = r["tflops"] / peak if peak else None
    lines = [
        f"# GPU benchmark: {card}",
        "",
        f"bf16 dense peak used for MFU: {peak} TFLOP/s ({results['peak_source']}). Host: "
        f"{results['host']['cpu_model']}, {results['host']['cpu_count']} CPUs; load "
        f"{', '.join(f'{x:.2f}' for x in results['host']['loadavg'])}. Total wall time "
        f"{results['wall_s']:.0f} s.",
        "",
        "Mixed bfloat16, Adam, `model.fit` on an in-memory batch (the faster of two timed epochs of "
        f"{results['steps']} steps; the first epoch compiles). Models: {GPU_MODELS}, early downsampling to 64 px.",
        "",
        "| backend | setting | arch | px | batch | params (M) | ms/step | images/s | compile (s) | TFLOP/step | TFLOP/s | MFU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["records"]:
        if r.get("kind") != "train":
            continue
        if "error" in r:
            lines.append(
                f"| {r['backend']} | {r.get('setting')} | {r.get('arch')} | {r.get('image_size')} | | | "
                f"error: {' '.join(r['error'].split())[:100]} | | | | | |"
            )
            continue
        tflop = "-" if not r.get("flops_per_step") else f"{r['flops_per_step'] / 1e12:.2f}"
        tflops = "-" if not r.get("tflops") else f"{r['tflops']:.0f}"
        mfu = "-" if not r.get("mfu") else f"{100 * r['mfu']:.1f}%"
        lines.append(
            f"| {r['backend']} | {r['setting']} | {r['arch']} | {r['image_size']} | {r['batch']} "
            f"| {r['parameters'] / 1e6:.1f} | {r['ms_per_step']:.1f} | {r['images_per_s']:.0f} | {r['compile_s']:.0f} "
            f"| {tflop} | {tflops} | {mfu} |"
        )
    lines += ["", "| backend | measured 8192^3 bf16 matmul (TFLOP/s) |", "|---|---|"]
    for r in results["records"]:
        if r.get("kind") == "matmul":
            lines.append(f"| {r['backend']} | {r['tflops']:.0f} |")
    errors = [r for r in results["records"] if r.get("kind") == "error"] + results["failures"]
    if errors:
        lines += ["", "Backends that did not run:", ""] + [
            f"- {r['backend']}: {r['error']}" for r in errors
        ]
    (out / f"gpu_{slug}.json").write_text(json.dumps(results, indent=1, default=str))
    (out / f"gpu_{slug}.md").write_text("\n".join(lines) + "\n")
    return out / f"gpu_{slug}.md"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(HERE / "results"))
    parser.add_argument("--backends", default="jax,torch,tensorflow")
    parser.add_argument("--archs", default="uvit,unet", type=lambda s: s.split(","))
    parser.add_argument("--sizes", default="128,256", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument(
        "--settings",
        default=",".join(DEFAULT_SETTINGS),
        type=lambda s: s.split(","),
        help="rows by key (see SETTINGS), e.g. compile,compile-noflash",
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed epoch")
    parser.add_argument("--budget-s", type=float, default=None, help="seconds per backend")
    parser.add_argument("--total-s", type=float, default=450.0, help="the whole run's budget")
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="tiny models on the CPU: checks the code"
    )
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_backend(args.one, args)
        sys.stdout.flush()
        os._exit(0)
    from benchmarks.common import machine_info

    start = time.time()
    card = None if args.cpu_smoke else card_name()
    peak, source = peak_for(card)
    backends = [b for b in args.backends.split(",") if b]
    results = dict(
        card=card or ("cpu-smoke" if args.cpu_smoke else None),
        peak_tflops=peak,
        peak_source=source,
        host=machine_info(),
        steps=2 if args.cpu_smoke else args.steps,
        records=[],
        failures=[],
    )
    print(f"[gpu] card: {card}; bf16 peak {peak} TFLOP/s ({source})", flush=True)
    for i, backend in enumerate(backends):
        left = args.total_s - (time.time() - start)
        # Share what is left between the backends still to run; TF gets little
        # (it is usually absent on the GPU image and fails at import).
        weights = {"jax": 1.0, "torch": 1.2, "tensorflow": 0.5}
        share = weights[backend] / sum(weights[b] for b in backends[i:])
        timeout = max(30.0, left * share)
        budget = args.budget_s or 0.7 * timeout
        env = {
            **os.environ,
            "KERAS_BACKEND": backend,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.85",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        command = [
            sys.executable,
            str(HERE / "gpu.py"),
            "--one",
            backend,
            "--budget-s",
            str(budget),
            "--archs",
            ",".join(args.archs),
            "--sizes",
            ",".join(map(str, args.sizes)),
            "--settings",
            ",".join(args.settings),
            "--batch",
            str(args.batch),
            "--steps",
            str(args.steps),
        ] + (["--cpu-smoke"] if args.cpu_smoke else [])
        print(f"[gpu] {backend}: timeout {timeout:.0f} s, budget {budget:.0f} s", flush=True)
        t0 = time.time()
        try:
            proc = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
            )
            stdout, stderr = proc.stdout, proc.stderr
            if proc.returncode != 0:
                results["failures"].append(
                    dict(
                        backend=backend,
                        error=f"exit {proc.returncode}: "
                        + " | ".join(stderr.strip().splitlines()[-3:])[:400],
                    )
                )
        except subprocess.TimeoutExpired as e:
            stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
            results["failures"].append(
                dict(backend=backend, error=f"timeout after {timeout:.0f} s")
            )
        records = [
            json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")
        ]
        results["records"] += records
        for r in records:
            print(f"[gpu] {json.dumps(r)[:300]}", flush=True)
        if not records:
            print(f"[gpu] {backend}: no results; stderr tail:\n{stderr[-3000:]}", flush=True)
        print(f"[gpu] {backend}: {time.time() - t0:.0f} s", flush=True)
        results["wall_s"] = time.time() - start
        path = write(results, pathlib.Path(args.out))
    results["wall_s"] = time.time() - start
    path = write(results, pathlib.Path(args.out))
    print(path.read_text())


if __name__ == "__main__":
    main()
