"""Shared pieces of the benchmarks: profiles (model sizes), machine facts,
the dense matmul reference and timing helpers.

Nothing here imports Keras at module level: the runner sets KERAS_BACKEND
per subprocess, which must happen before Keras is imported.
"""

import json
import os
import platform
import statistics
import time

# --------------------------------------------------------------------------
# Profiles. Sizes are scaled down for a 2-core CPU: a full-run training step
# takes about 0.1-2 s there. Every model starts from a 32 x 32 feature map:
# no early downsampling at 32 px, the 5/3 wavelet (DWT) by 2 at 64 px and by
# 4 at 128 px (the paper's recipe: downsample at once, keep the capacity at
# the low resolutions), so a step's FLOPs per image barely grow with the
# resolution.
# --------------------------------------------------------------------------

UNET = dict(
    widths=(32, 64),
    bottom_width=128,
    num_res_blocks=1,
    bottom_blocks=2,
    attention_max_resolution=8,
    num_heads=4,
    embedding_dim=128,
    groups=8,
)
UVIT = dict(
    widths=(32, 64),
    num_res_blocks=1,
    transformer_width=256,
    transformer_depth=4,
    num_heads=4,
    embedding_dim=128,
    groups=8,
)
# The paper's proportions, most of the step in a transformer at 16 x 16
# (`uvit-s`'s level and transformer, at 32 px without the wavelet): the
# share of the matmul rate a U-ViT step reaches when its shape lets it.
UVIT_PAPER = dict(
    widths=(128,),
    num_res_blocks=2,
    transformer_width=384,
    transformer_depth=8,
    num_heads=6,
    embedding_dim=256,
    groups=8,
)
MICRO_UNET = dict(
    widths=(8,),
    bottom_width=16,
    num_res_blocks=1,
    bottom_blocks=1,
    attention_max_resolution=8,
    num_heads=2,
    embedding_dim=16,
    groups=4,
)
MICRO_UVIT = dict(
    widths=(8,),
    num_res_blocks=1,
    transformer_width=16,
    transformer_depth=1,
    num_heads=2,
    embedding_dim=16,
    groups=4,
)

# diffusers' UNet2DModel at a comparable size: the same widths per level
# (32, 64, 128), one block per level, attention at the lowest level.
PEER = dict(
    block_out_channels=(32, 64, 128),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    norm_num_groups=8,
    attention_head_dim=32,
)
MICRO_PEER = dict(
    block_out_channels=(8, 16),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=4,
    attention_head_dim=8,
)

# Compile settings per backend: (name, Keras `jit_compile`). The first is the
# Keras default ("auto"); JAX always jit-compiles, so it has one setting.
TF_XLA = "jit_compile=True (XLA)"
TORCH_COMPILE = "torch.compile (jit_compile=True)"
SETTINGS = {
    "jax": [("jit (default)", "auto")],
    "tensorflow": [("auto (default)", "auto"), (TF_XLA, True)],
    "torch": [("eager (default)", "auto"), (TORCH_COMPILE, True)],
}

PROFILES = {
    # Seconds: the in-process smoke test.
    "micro": dict(
        sizes=[16],
        archs={"uvit": MICRO_UVIT},
        batch=2,
        steps=2,
        warmup=1,
        settings="default",
        sample_steps=2,
        sample_batch=2,
        sample_size=16,
        peer=MICRO_PEER,
        peer_batch={16: 2},
        peer_compile=False,
        matmul_n=256,
        matmul_repeats=2,
    ),
    # Under a minute per backend on an idle 2-core machine.
    # U-ViT only, default settings: JAX compiles cost most of it.
    "quick": dict(
        sizes=[32],
        archs={"uvit": UVIT},
        batch=8,
        steps=3,
        warmup=1,
        settings="default",
        sample_steps=16,
        sample_batch=4,
        sample_size=32,
        peer=PEER,
        peer_batch={32: 8},
        peer_compile=False,
        matmul_n=1024,
        matmul_repeats=3,
    ),
    # The full CPU run, sized to finish every row in about 20 minutes on 2
    # idle cores (PROFILE_NOTES says what was cut and why).
    "full": dict(
        sizes=[32, 64, 128],
        archs={"unet": UNET, "uvit": UVIT},
        batch=16,
        steps=3,
        warmup=1,
        settings="all",
        setting_sizes={TF_XLA: [32], TORCH_COMPILE: [32]},
        compile_cap_s={TORCH_COMPILE: 300},
        sample_steps=32,
        sample_batch=8,
        sample_size=32,
        sample_archs=["uvit"],
        peer=PEER,
        peer_batch={32: 16, 64: 8, 128: 4},
        peer_compile=True,
        peer_compile_sizes=[32],
        matmul_n=2048,
        matmul_repeats=5,
    ),
}

# The U-ViT of the paper's proportions alone, at 32 px, with the full
# profile's steps, settings and matmul reference
# (`--profile paper --only matmul,train --no-peer`).
PROFILES["paper"] = dict(
    PROFILES["full"],
    sizes=[32],
    archs={"uvit": UVIT_PAPER},
    peer_batch={32: 16},
    peer_compile=False,
)

# What a profile leaves out to fit its time, for the report's header.
PROFILE_NOTES = dict(
    full=(
        "Profile limits, to finish every row in about 20 minutes on 2 idle cores (compiles dominate: 30-60 s "
        "per JAX / TF+XLA train step, minutes per torch.compile): median of 3 timed steps after 1 warm-up "
        "step; the non-default compiled settings (TF `jit_compile=True`, `torch.compile`; the peer's "
        "`torch.compile`) at 32 px only, the defaults at every size; each `torch.compile` row in a child "
        "process capped at 300 s (its row says so if the cap is hit); `torch.compile` compile times depend "
        "on inductor's on-disk cache (warm on a rerun, see `inductor_cache_warm` in the JSON); sampling "
        "with the U-ViT only and 32 steps (the compiled-vs-loop ratios hardly depend on the step count)."
    )
)


def sizes_for(profile, setting, sizes=None):
    """The image sizes a profile measures a setting at (all by default)."""
    p = PROFILES[profile]
    sizes = sizes or p["sizes"]
    only = p.get("setting_sizes", {}).get(setting)
    return [s for s in sizes if only is None or s in only]


def batch_for(profile, size):
    """The training batch of a profile at an image size."""
    p = PROFILES[profile]
    return p.get("batch_by_size", {}).get(size, p["batch"])


def settings_for(backend, profile):
    """The compile settings a profile measures on a backend."""
    every = SETTINGS[backend]
    mode = PROFILES[profile]["settings"]
    if mode == "default":
        return every[:1]
    return every


def model_kwargs(arch, size, profile):
    """Keyword arguments of the UNet / UViT for an image size."""
    base = dict(PROFILES[profile]["archs"][arch])
    first = min(size, 2 * PROFILES[profile]["sizes"][0]) if profile == "micro" else 32
    factor = max(size // first, 1)
    down = dict(downsample="dwt", downsample_factor=factor) if factor > 1 else dict(downsample=None)
    return dict(image_size=size, channels=3, dropout=0.0, **base, **down)


def build_denoiser(arch, size, profile):
    from keras_simple_diffusion.models import UNet, UViT

    return {"unet": UNet, "uvit": UViT}[arch](**model_kwargs(arch, size, profile))


# --------------------------------------------------------------------------
# Machine facts.
# --------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return dict(
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        usable_cores=usable,
        platform=platform.platform(),
        python=platform.python_version(),
        loadavg=list(os.getloadavg()),
        time=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )


def versions(backend=None):
    out = {}
    for name in ("keras", "numpy", backend, "diffusers" if backend == "torch" else None):
        if not name:
            continue
        try:
            module = __import__(name)
            out[name] = getattr(module, "__version__", "?")
        except ImportError:
            out[name] = None
    return out


# --------------------------------------------------------------------------
# Dense matmul reference: the machine's own FLOP/s ceiling for float32.
# --------------------------------------------------------------------------


def matmul_flops(n=2048, repeats=5, backend="numpy"):
    """Best FLOP/s of an n x n x n float32 product (2 n^3 FLOPs) on `backend`."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n), dtype="float32")
    b = np.random.default_rng(1).standard_normal((n, n), dtype="float32")
    if backend == "numpy":
        fn = lambda: a @ b  # noqa: E731
    elif backend == "jax":
        import jax

        ja, jb = jax.device_put(a), jax.device_put(b)
        mm = jax.jit(lambda x, y: x @ y)
        fn = lambda: mm(ja, jb).block_until_ready()  # noqa: E731
    elif backend == "tensorflow":
        import tensorflow as tf

        ta, tb = tf.constant(a), tf.constant(b)
        fn = lambda: tf.linalg.matmul(ta, tb).numpy()  # noqa: E731
    elif backend == "torch":
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        fn = lambda: torch.mm(ta, tb)  # noqa: E731
    else:
        raise ValueError(backend)
    fn()
    best = min(timed(fn) for _ in range(repeats))
    return 2.0 * n**3 / best


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summarize(times):
    """Median and spread of per-step times (seconds)."""
    return dict(
        median_s=statistics.median(times),
        min_s=min(times),
        max_s=max(times),
        n=len(times),
    )


def save_results(out, name, results, table):
    """`<out>/<name>.json` (the results) and `.md` (their table), printed."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{name}.json"), "w") as file:
        json.dump(results, file, indent=2)
    with open(os.path.join(out, f"{name}.md"), "w") as file:
        file.write(table)
    print(table)


def emit(record):
    """One result line on stdout for the runner to collect."""
    print("RESULT " + json.dumps(record), flush=True)


def parse_results(text):
    return [json.loads(line[7:]) for line in text.splitlines() if line.startswith("RESULT ")]


def option_flags(options):
    """`--key value` command-line flags of `options`, None values left out."""
    return [
        part
        for key, value in options.items()
        if value is not None
        for part in (f"--{key.replace('_', '-')}", str(value))
    ]


def worker_record(result):
    """The first result a finished worker process emitted (`emit`), or
    `{"error": the last line it printed}` when it failed or emitted none."""
    found = parse_results(result.stdout)
    if result.returncode or not found:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        return dict(error=lines[-1][:300])
    return found[0]
