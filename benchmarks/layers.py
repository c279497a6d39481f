"""Op-level profile: the training step of one-layer models, per backend.

    python -m benchmarks.layers                 # the benchmark models' shapes (sized for < 4 min on 2 cores)
    python -m benchmarks.layers --quick         # tiny shapes, one row per code path, 2 timed steps
    python -m benchmarks.layers --backends jax,torch --out /tmp/layers

Why JAX's jit train step is 1.6-1.9x slower than TF and torch on the CPU for
the benchmark U-Net / U-ViT (`benchmarks/README.md`): each row isolates one
layer kind the denoisers are made of, at the shapes those models use (batch
16, float32), and times `model.train_on_batch` (Adam, MSE to a fixed target)
with each backend's default setting (JAX jit, TF `jit_compile="auto"`, torch
eager). The first step is reported apart as the compile, then 1 warm-up
step, then the median of the timed steps.

A trainable scalar scale (`InputScale`) sits in front of every layer: as in
the middle of a denoiser, the step then needs the gradient with respect to
the layer's input too (a model's input needs none), so conv, dense and
attention rows do forward + input gradient + weight gradient. Its own work,
one multiply and one reduction over the input, is small next to a conv or
dense layer and is part of the norm rows on every backend alike.

Each backend runs in its own subprocess (KERAS_BACKEND is set before Keras is
imported), started like `benchmarks.run` does. Writes
`<out>/layers_cpu.{json,md,png}` (`layers_cpu_quick.*` with `--quick`) and
prints the table.
"""

import argparse
import json
import os
import pathlib
import sys
import time
import traceback

from benchmarks import common, report, run, worker

BACKENDS = run.BACKENDS
# Seconds per backend subprocess: ~3x an idle 2-core machine's estimate
# (imports plus ~3 s of compile and < 1 s of steps per row).
TIMEOUT_S = dict(full=180, quick=120)
# The shapes of the benchmark models (benchmarks/common.py: UNET, UVIT at
# 32 px, batch 16), and tiny ones for the smoke test. The quick run keeps one
# row per code path (each row costs a JAX / TF compile, ~1 s even when tiny).
SHAPES = dict(
    full=dict(
        batch=16,
        size=32,
        widths=(32, 64),
        bottom=128,
        tokens=64,
        width=256,
        heads=4,
        groups=8,
        mlp_ratio=4,
        steps=10,
        warmup=1,
    ),
    quick=dict(
        batch=2,
        size=8,
        widths=(4, 8),
        bottom=8,
        tokens=4,
        width=16,
        heads=2,
        groups=2,
        mlp_ratio=4,
        steps=2,
        warmup=1,
        rows=("conv", "conv_stride2", "group_norm", "dense_up", "attention", "layer_norm"),
    ),
)

# --------------------------------------------------------------------------
# FLOPs, counted analytically (one multiply-add = 2 FLOPs; biases,
# activations, softmax, norms and the optimizer update are not counted, as
# with torch's FlopCounterMode):
#   conv forward       2 * B * Ho * Wo * k * k * Cin * Cout   (Ho, Wo: output size)
#   dense forward      2 * B * T * Din * Dout                  (T tokens)
#   attention forward  Q, K, V and output projections 4 * 2 * B * T * D * (h * d)
#                      + scores Q K^T and their weighted sum of V 2 * 2 * B * h * T^2 * d
#                      (width D, h heads of key_dim d)
#   train step         3 x forward: the input gradient and the weight gradient
#                      each cost as many multiply-adds as the forward pass.
# --------------------------------------------------------------------------

TRAIN_OVER_FORWARD = 3
# The layers whose kernels `_one_layer_model` sets from numpy.
KERNEL_INITIALIZER = {
    name: dict(kernel_initializer="zeros") for name in ("Conv2D", "Dense", "MultiHeadAttention")
}


def conv_flops(batch, out_size, kernel, c_in, c_out):
    return 2 * batch * out_size**2 * kernel**2 * c_in * c_out


def dense_flops(batch, tokens, d_in, d_out):
    return 2 * batch * tokens * d_in * d_out


def attention_flops(batch, tokens, width, heads, key_dim):
    return 8 * batch * tokens * width * heads * key_dim + 4 * batch * heads * tokens**2 * key_dim


def layer_specs(shapes):
    """The rows, in table order: id, name, where the models use the layer,
    input shape (no batch), Keras layer class and arguments, and forward
    FLOPs (None where not counted: the norms). `shapes["rows"]` (ids) keeps
    some of them."""
    b, s, (w0, w1), bottom = shapes["batch"], shapes["size"], shapes["widths"], shapes["bottom"]
    t, d, heads = shapes["tokens"], shapes["width"], shapes["heads"]
    hidden = shapes["mlp_ratio"] * d

    def conv(row_id, c_in, c_out, size, where, strides=1):
        out = size // strides
        name = f"Conv2D 3x3{' stride 2' if strides > 1 else ''} {size}x{size}x{c_in} -> {out}x{out}x{c_out}"
        return dict(
            id=row_id,
            name=name,
            where=where,
            input_shape=(size, size, c_in),
            layer="Conv2D",
            args=dict(filters=c_out, kernel_size=3, strides=strides, padding="same"),
            forward_flops=conv_flops(b, out, 3, c_in, c_out),
        )

    def dense(row_id, d_in, d_out):
        return dict(
            id=row_id,
            name=f"Dense {d_in} -> {d_out} on {t} tokens",
            where="U-ViT MLP",
            input_shape=(t, d_in),
            layer="Dense",
            args=dict(units=d_out),
            forward_flops=dense_flops(b, t, d_in, d_out),
        )

    def attention(row_id, width, where):
        key_dim = width // heads
        return dict(
            id=row_id,
            name=f"MultiHeadAttention {heads}x{key_dim} on {t} tokens of {width}",
            where=where,
            input_shape=(t, width),
            layer="MultiHeadAttention",
            args=dict(num_heads=heads, key_dim=key_dim),
            forward_flops=attention_flops(b, t, width, heads, key_dim),
        )

    # The norms as the denoisers build them (keras_simple_diffusion/layers/
    # blocks.py): GroupNorm eps 1e-5; the transformer's LayerNorms eps 1e-6
    # without scale or centre (the embedding modulates them instead).
    specs = [
        conv("conv", w0, w0, s, "level-0 residual blocks"),
        conv(
            "conv_concat",
            2 * w0,
            w0,
            s,
            "level-0 decoder (upsampling conv, blocks after the skip concat)",
        ),
        conv("conv_stride2", w0, w1, s, "encoder downsampling", strides=2),
        conv("conv_half", w1, w1, s // 2, "level-1 residual blocks"),
        conv("conv_bottom", bottom, bottom, s // 4, "U-Net bottom blocks"),
        dict(
            id="group_norm",
            name=f"GroupNormalization {shapes['groups']} groups {s}x{s}x{w0}",
            where="residual blocks, output head",
            input_shape=(s, s, w0),
            layer="GroupNormalization",
            args=dict(groups=shapes["groups"], epsilon=1e-5),
            forward_flops=None,
        ),
        dense("dense_up", d, hidden),
        dense("dense_down", hidden, d),
        attention("attention", d, "U-ViT transformer"),
        attention("attention_bottom", bottom, "U-Net bottom"),
        dict(
            id="layer_norm",
            name=f"LayerNormalization on {t} tokens of {d}",
            where="U-ViT transformer",
            input_shape=(t, d),
            layer="LayerNormalization",
            args=dict(epsilon=1e-6, center=False, scale=False),
            forward_flops=None,
        ),
    ]
    keep = shapes.get("rows")
    return [spec for spec in specs if keep is None or spec["id"] in keep]


# --------------------------------------------------------------------------
# One backend, in this process.
# --------------------------------------------------------------------------


def _one_layer_model(spec):
    """`InputScale -> layer`, compiled with Adam and MSE at the backend's
    default setting."""
    import keras
    import numpy as np

    class InputScale(keras.layers.Layer):
        """x * s with a trainable scalar s = 1: makes the step compute the
        gradient with respect to the next layer's input."""

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

        def call(self, x):
            return x * self.scale

    inputs = keras.Input(spec["input_shape"])
    x = InputScale()(inputs)
    # Zero kernels at build, then numpy's: the same weights on every backend,
    # and JAX compiles no random kernel per weight shape (about a second
    # each on this CPU, most of a quick run).
    layer = getattr(keras.layers, spec["layer"])(
        **spec["args"], **KERNEL_INITIALIZER.get(spec["layer"], {})
    )
    outputs = layer(x, x) if spec["layer"] == "MultiHeadAttention" else layer(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        if variable.path.endswith("kernel"):
            variable.assign(rng.uniform(-0.1, 0.1, variable.shape).astype("float32"))
    _, default_jit_compile = common.SETTINGS[keras.config.backend()][0]
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4), loss="mse", jit_compile=default_jit_compile
    )
    return model


def bench_layer(spec, shapes):
    """One row: compile (first step - median), then the timed steps."""
    import numpy as np

    backend = worker._backend()
    batch = shapes["batch"]
    model = _one_layer_model(spec)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *spec["input_shape"]), dtype="float32")
    y = rng.standard_normal((batch, *model.output_shape[1:]), dtype="float32")

    def step():
        model.train_on_batch(x, y)

    first = common.timed(step)
    for _ in range(shapes["warmup"]):
        step()
    stats = common.summarize([common.timed(step) for _ in range(shapes["steps"])])
    flops = spec["forward_flops"] and TRAIN_OVER_FORWARD * spec["forward_flops"]
    return dict(
        kind="layer",
        backend=backend,
        setting=common.SETTINGS[backend][0][0],
        id=spec["id"],
        name=spec["name"],
        where=spec["where"],
        layer=spec["layer"],
        args=spec["args"],
        batch=batch,
        input_shape=list(spec["input_shape"]),
        output_shape=list(model.output_shape[1:]),
        first_step_s=first,
        compile_s=max(first - stats["median_s"], 0.0),
        step=stats,
        ms_per_step=1e3 * stats["median_s"],
        flops_per_step=flops,
        gflops_per_s=flops and flops / stats["median_s"] / 1e9,
    )


def measure_layers(shapes, emit=common.emit):
    """Every row on this process' backend; calls `emit(record)` for each
    (an error row instead of raising, so the other rows still run)."""
    backend = worker._backend()
    emit(
        dict(
            kind="info",
            backend=backend,
            versions=common.versions(backend),
            machine=common.machine_info(),
        )
    )
    for spec in layer_specs(shapes):
        try:
            emit(bench_layer(spec, shapes))
        except Exception as e:  # noqa: BLE001 - report, then go on with the next row
            traceback.print_exc()
            emit(
                dict(
                    kind="layer",
                    backend=backend,
                    id=spec["id"],
                    name=spec["name"],
                    error=worker.describe_error(e),
                )
            )


# --------------------------------------------------------------------------
# The report.
# --------------------------------------------------------------------------


def _ms(record):
    return record["ms_per_step"] if record and "error" not in record else None


def _by_layer(results):
    """Layer id -> backend -> record, in the order the rows ran."""
    by_row = {}
    for r in results["records"]:
        by_row.setdefault(r["id"], {})[r["backend"]] = r
    return by_row


def markdown(results):
    """The header, the per-layer table (ms/step, JAX / fastest, GFLOP/s per
    backend) and the compile times; one row per layer."""
    backends = list(results["backends"])
    shapes = results["shapes"]
    by_row = _by_layer(results)
    m = results["machine"]
    lines = [
        f"# Layer profile: the training step of one-layer models ({results['profile']} shapes)",
        "",
        f"Machine: {m['cpu_model']}, {m['usable_cores']} usable cores; run at {m['time']}. Load average "
        f"(1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in results['load_start'])}; at the end: "
        f"{', '.join(f'{x:.2f}' for x in results['load_end'])}.",
        "Versions: "
        + "; ".join(
            f"{b}: " + ", ".join(f"{k} {v}" for k, v in vs.items())
            for b, vs in results["versions"].items()
        )
        + ".",
        "",
        f"`model.train_on_batch` (Adam, MSE) of `InputScale -> layer`, batch {shapes['batch']}, float32, each "
        f"backend's default setting ({', '.join(f'{b}: {common.SETTINGS[b][0][0]}' for b in backends)}); median "
        f"of {shapes['steps']} timed steps after {shapes['warmup']} warm-up step. The trainable scalar "
        "`InputScale` makes the step compute the gradient with respect to the layer's input, as in the middle "
        "of a denoiser. GFLOP/step: analytic matmul/conv FLOPs x 3 (forward, input and weight gradients; "
        "`benchmarks/layers.py`); `-` for the norms.",
        "",
        "| layer | in the models | GFLOP/step | "
        + " | ".join(f"{b} ms" for b in backends)
        + " | JAX / fastest | "
        + " | ".join(f"{b} GFLOP/s" for b in backends)
        + " |",
        "|---" * (4 + 2 * len(backends)) + "|",
    ]
    for row in by_row.values():
        times = {b: _ms(row.get(b)) for b in backends}
        measured = [v for v in times.values() if v]
        ratio = times.get("jax") / min(measured) if times.get("jax") else None
        any_record = next(iter(row.values()))
        flops = any_record.get("flops_per_step")
        speeds = [(row.get(b) or {}).get("gflops_per_s") for b in backends]
        lines.append(
            f"| {any_record['name']} | {any_record.get('where', '')} | {report._f(flops and flops / 1e9, '{:.3g}')} | "
            + " | ".join(report._f(times[b], "{:.1f}") for b in backends)
            + f" | {report._f(ratio, '{:.2f}x')} | "
            + " | ".join(report._f(v, "{:.1f}") for v in speeds)
            + " |"
        )
    lines += [
        "",
        "Compile (first step - median, s):",
        "",
        "| layer | " + " | ".join(backends) + " |",
        "|---" * (1 + len(backends)) + "|",
    ]
    for row in by_row.values():
        lines.append(
            f"| {next(iter(row.values()))['name']} | "
            + " | ".join(report._f((row.get(b) or {}).get("compile_s"), "{:.2f}") for b in backends)
            + " |"
        )
    errors = [r for r in results["records"] if "error" in r] + results["errors"]
    if errors:
        lines += ["", "Errors:", ""] + [
            f"- {e['backend']}: {e.get('name', '')} {e['error'][:300]}" for e in errors
        ]
    return "\n".join(lines) + "\n"


def plot(results, path):
    """A bar chart of ms/step per layer and backend; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    backends = list(results["backends"])
    rows = list(_by_layer(results).values())
    names = [next(iter(row.values()))["name"] for row in rows]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) + 1.5))
    height = 0.8 / max(len(backends), 1)
    for i, backend in enumerate(backends):
        ax.barh(
            [j + i * height for j in range(len(names))],
            [_ms(row.get(backend)) or 0.0 for row in rows],
            height,
            label=backend,
        )
    ax.set_yticks([j + 0.4 - height / 2 for j in range(len(names))], names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms per training step (lower is faster)")
    ax.set_title(
        f"One-layer training steps, batch {results['shapes']['batch']}, {results['machine']['cpu_model']}"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(results, out, stem):
    """`<out>/<stem>.json`, `.md` and `.png` (when matplotlib is there);
    returns the paths written."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{stem}.md"]
    paths[0].write_text(json.dumps(results, indent=1, default=str))
    paths[1].write_text(markdown(results))
    if plot(results, out / f"{stem}.png"):
        paths.append(out / f"{stem}.png")
    return paths


def new_results(profile, backends):
    """The dict a run fills: shapes, machine, load at the start, records."""
    return dict(
        profile=profile,
        shapes=SHAPES[profile],
        backends=list(backends),
        machine=common.machine_info(),
        load_start=list(os.getloadavg()),
        versions={},
        records=[],
        errors=[],
    )


def collect(results, records, backend):
    """Files one backend's records (versions and rows) into `results`."""
    for r in records:
        if r["kind"] == "info":
            results["versions"][backend] = r["versions"]
        elif r["kind"] == "layer":
            results["records"].append(r)


def profile_all(profile, backends=BACKENDS, out=None):
    """Every backend in its own subprocess; writes the files, returns (results, paths)."""
    out = pathlib.Path(out or run.ROOT / "benchmarks" / "results")
    stem = "layers_cpu" + ("_quick" if profile == "quick" else "")
    out.mkdir(parents=True, exist_ok=True)
    results = new_results(profile, backends)
    with open(out / f"{stem}.log", "w") as log:
        for backend in backends:
            args = ["--worker"] + (["--quick"] if profile == "quick" else [])
            records, error = run._subprocess(
                "benchmarks.layers", args, backend, TIMEOUT_S[profile], log
            )
            collect(results, records, backend)
            if error:
                results["errors"].append(dict(backend=backend, error=error))
    results["load_end"] = list(os.getloadavg())
    return results, write(results, out, stem)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny shapes, one row per code path, 2 timed steps"
    )
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument(
        "--out", default=None, help="folder of the results (default: benchmarks/results)"
    )
    parser.add_argument(
        "--worker", action="store_true", help=argparse.SUPPRESS
    )  # one backend, this process
    args = parser.parse_args()
    profile = "quick" if args.quick else "full"
    if args.worker:
        measure_layers(SHAPES[profile])
        sys.stdout.flush()
        os._exit(0)  # skip the slow interpreter teardown of TF / torch
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in BACKENDS:
            parser.error(f"unknown backend {b!r}; expected some of {BACKENDS}")
    start = time.time()
    results, paths = profile_all(profile, backends, args.out)
    print(paths[1].read_text())
    print(f"[layers] wrote {', '.join(map(str, paths))} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
