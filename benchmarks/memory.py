"""Peak memory of one training step vs resolution and early downsampling.

For each (preset, downsample) a fresh process (JAX backend, float32, Adam,
batch 2, jit-compiled Keras train step) reports:

- `compiled_gib`: XLA's memory analysis of the compiled step (arguments +
  outputs + temporaries - aliased), available even where running would not fit;
- `peak_rss_gib`: the process' max RSS (`resource.getrusage`) after running
  the step, when the compiled estimate is below --run-limit-gib;
- `step_s`: wall time of the second step (the first compiles).

    KERAS_BACKEND=jax python benchmarks/memory.py            # all configurations
    python benchmarks/memory.py --presets uvit-512 --downsample dwt none

Writes benchmarks/results/memory.{md,json,png}.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

RESULTS = pathlib.Path(
    os.environ.get("KSD_RESULTS_DIR") or pathlib.Path(__file__).with_name("results")
)
GIB = 2.0**30


def measure(preset, downsample, batch, run_limit_gib):
    os.environ["KERAS_BACKEND"] = "jax"
    import resource

    import jax
    import keras
    import numpy as np

    import keras_simple_diffusion as ksd
    from keras_simple_diffusion.models.presets import preset_config

    _, config = preset_config(preset)
    overrides = {"downsample": downsample}
    if downsample is None:
        overrides["downsample_factor"] = 1
    keras.utils.set_random_seed(0)
    denoiser = ksd.build_denoiser(preset, **overrides)
    size = config["image_size"]
    extra = dict(noise_d_low=32, noise_d_high=256) if size >= 512 else dict(noise_d=64)
    model = ksd.SimpleDiffusion(denoiser, seed=0, **extra)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=True)
    x = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    model._symbolic_build(data_batch=(x,))
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    start = time.perf_counter()
    compiled = jax.jit(model.train_step).lower(state, (x,)).compile()
    compile_s = time.perf_counter() - start
    analysis = compiled.memory_analysis()
    total = (
        analysis.argument_size_in_bytes
        + analysis.output_size_in_bytes
        + analysis.temp_size_in_bytes
        - analysis.alias_size_in_bytes
    )
    result = dict(
        preset=preset,
        downsample=downsample or "none",
        image_size=size,
        batch=batch,
        parameters=int(sum(np.prod(v.shape) for v in model.trainable_variables)),
        first_feature_map=int(denoiser.image_size // denoiser.downsample_factor),
        compiled_gib=total / GIB,
        temp_gib=analysis.temp_size_in_bytes / GIB,
        compile_s=compile_s,
        peak_rss_gib=None,
        step_s=None,
        loss=None,
        peak_device_gib=None,
    )
    if total / GIB < run_limit_gib:
        logs, state = compiled(state, (x,))
        jax.block_until_ready(logs)
        start = time.perf_counter()
        logs, state = compiled(state, (x,))
        jax.block_until_ready(logs)
        result["step_s"] = time.perf_counter() - start
        result["loss"] = float(logs["loss"])
        result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB
        stats = jax.devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            result["peak_device_gib"] = stats["peak_bytes_in_use"] / GIB
    result["device"] = str(jax.devices()[0].device_kind)
    return result


def write(results):
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(results, indent=2))
    fmt = lambda v, p=2: "-" if v is None else f"{v:.{p}f}"  # noqa: E731
    lines = [
        "| preset | early downsampling | first feature map | params (M) | compiled step (GiB) | peak RSS (GiB) | peak device (GiB) | step (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(
                f"| {r['preset']} | {r['downsample']} | - | - | error: {r['error'][:60]} | - | - | - |"
            )
            continue
        lines.append(
            f"| {r['preset']} | {r['downsample']} | {r['first_feature_map']}x{r['first_feature_map']} "
            f"| {r['parameters'] / 1e6:.1f} | {fmt(r['compiled_gib'])} | {fmt(r['peak_rss_gib'])} "
            f"| {fmt(r.get('peak_device_gib'))} | {fmt(r['step_s'], 2)} |"
        )
    table = "\n".join(lines)
    (RESULTS / "memory.md").write_text(
        f"Training step, batch 2, float32, Adam, JAX jit on {results[0].get('device', '?')}. Compiled = XLA memory "
        "analysis (arguments + outputs + temporaries); peak RSS = max resident set of a "
        "fresh process that ran the step ('-': not run, estimate above the limit).\n\n"
        + table
        + "\n"
    )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for downsample in ("dwt", "patch", "none"):
            rows = [r for r in results if r.get("downsample") == downsample and "compiled_gib" in r]
            if rows:
                ax.plot(
                    [r["image_size"] for r in rows],
                    [r["compiled_gib"] for r in rows],
                    "o-",
                    label=downsample,
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("image size (px)")
        ax.set_ylabel("training step memory (GiB, compiled)")
        ax.set_title("U-ViT training step, batch 2")
        ax.legend(title="early downsampling")
        fig.tight_layout()
        fig.savefig(RESULTS / "memory.png", dpi=120)
    except ImportError:
        pass
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["uvit-256", "uvit-512"])
    parser.add_argument("--downsample", nargs="+", default=["dwt", "patch", "none"])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--run-limit-gib", type=float, default=12.0)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        preset, downsample = args.one
        result = measure(
            preset, None if downsample == "none" else downsample, args.batch, args.run_limit_gib
        )
        print("RESULT " + json.dumps(result), flush=True)
        return
    results = []
    for preset in args.presets:
        for downsample in args.downsample:
            command = [
                sys.executable,
                __file__,
                "--one",
                preset,
                downsample,
                "--batch",
                str(args.batch),
                "--run-limit-gib",
                str(args.run_limit_gib),
            ]
            env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
            try:
                proc = subprocess.run(
                    command, env=env, capture_output=True, text=True, timeout=args.timeout
                )
                line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
                result = (
                    json.loads(line[-1][7:])
                    if line
                    else dict(
                        preset=preset,
                        downsample=downsample,
                        error=(proc.stderr.strip().splitlines() or ["?"])[-1],
                    )
                )
            except subprocess.TimeoutExpired:
                result = dict(
                    preset=preset, downsample=downsample, error=f"timeout {args.timeout}s"
                )
            print(json.dumps(result), flush=True)
            results.append(result)
            write(results)
    print(write(results))


if __name__ == "__main__":
    main()
