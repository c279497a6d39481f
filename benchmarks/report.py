"""Derived figures, the targets, the Markdown tables and the PNG plots of a run."""

import json
import pathlib

TARGETS = dict(
    backend_spread=1.25,  # every backend within 1.25x of the fastest
    flops_vs_peer=1.2,  # achieved FLOP/s >= 1.2x diffusers'
    uvit_matmul_fraction=0.5,  # U-ViT training step >= 50% of the matmul FLOP/s
    sampler_speedup=3.0,  # compiled sampler >= 3x the Python loop
)


def _ok(records):
    return [r for r in records if "error" not in r]


def derive(results):
    """Adds FLOPs, FLOP/s and fractions of the matmul peak to the records,
    and evaluates the targets. `results` is the dict the runner assembled."""
    matmul = {k: v for k, v in results["matmul"].items() if v}
    peak = max(matmul.values()) if matmul else None
    results["matmul_peak_flops_per_s"] = peak
    results["matmul_peak_source"] = max(matmul, key=matmul.get) if matmul else None
    train = _ok(results["train"])
    xla = {}
    counter = {}
    for r in train:
        key = (r["arch"], r["image_size"], r["batch"])
        if r.get("flops_xla"):
            xla[key] = r["flops_xla"]
        if r.get("flops_torch_counter"):
            counter[key] = r["flops_torch_counter"]
    xla.update(
        {
            (f["arch"], f["image_size"], f["batch"]): f["flops_xla"]
            for f in results.get("flops", [])
            if f.get("flops_xla")
        }
    )
    for r in train:
        key = (r["arch"], r["image_size"], r["batch"])
        r["flops_per_step"] = xla.get(key)
        r["flops_counter_per_step"] = counter.get(key)
        seconds = r["step"]["median_s"]
        if r["flops_per_step"]:
            r["flops_per_s"] = r["flops_per_step"] / seconds
            r["fraction_of_matmul"] = r["flops_per_s"] / peak if peak else None
        if r["flops_counter_per_step"]:
            r["counter_flops_per_s"] = r["flops_counter_per_step"] / seconds
    peers = _ok(results["peer"])
    peer_flops = {
        p["image_size"]: p["flops_torch_counter"] for p in peers if p.get("flops_torch_counter")
    }
    for p in peers:
        p["flops_counter_per_step"] = peer_flops.get(p["image_size"])
        if p["flops_counter_per_step"]:
            p["counter_flops_per_s"] = p["flops_counter_per_step"] / p["step"]["median_s"]
            p["fraction_of_matmul"] = p["counter_flops_per_s"] / peak if peak else None
    results["flops_crosscheck"] = [
        dict(
            arch=k[0],
            image_size=k[1],
            batch=k[2],
            xla=xla[k],
            torch_counter=counter[k],
            counter_over_xla=counter[k] / xla[k],
        )
        for k in sorted(set(xla) & set(counter))
    ]
    results["targets"] = targets(results, train, peers)
    return results


def _best(records, key=lambda r: r["step"]["median_s"]):
    return min(records, key=key) if records else None


def targets(results, train, peers):
    out = []
    # 1. Every backend within 1.25x of the fastest (each at its best setting).
    rows = []
    for arch, size in sorted({(r["arch"], r["image_size"]) for r in train}):
        group = [r for r in train if r["arch"] == arch and r["image_size"] == size]
        best = {}
        for r in group:
            b = r["backend"]
            if b not in best or r["step"]["median_s"] < best[b]["step"]["median_s"]:
                best[b] = r
        fastest = min(v["step"]["median_s"] for v in best.values())
        ratios = {b: v["step"]["median_s"] / fastest for b, v in best.items()}
        rows.append(
            dict(
                arch=arch,
                image_size=size,
                slowdown_vs_fastest=ratios,
                best_setting={b: v["setting"] for b, v in best.items()},
            )
        )
    backends = {r["backend"] for r in train}
    if len(backends) > 1:
        worst = max(max(r["slowdown_vs_fastest"].values()) for r in rows)
        out.append(
            dict(
                target="every backend within 1.25x of the fastest (best setting each)",
                value=worst,
                threshold=TARGETS["backend_spread"],
                met=worst <= TARGETS["backend_spread"],
                detail=rows,
            )
        )
    # 2. Achieved FLOP/s >= 1.2x diffusers' (same counter on both sides:
    #    FlopCounterMode's matmul/conv/attention FLOPs).
    detail = []
    for size in sorted({p["image_size"] for p in peers}):
        peer = _best(
            [p for p in peers if p["image_size"] == size and p.get("counter_flops_per_s")],
            key=lambda p: -p["counter_flops_per_s"],
        )
        for arch in ("unet", "uvit"):
            ours = _best(
                [
                    r
                    for r in train
                    if r["image_size"] == size
                    and r["arch"] == arch
                    and r.get("counter_flops_per_s")
                ],
                key=lambda r: -r["counter_flops_per_s"],
            )
            if peer and ours:
                detail.append(
                    dict(
                        image_size=size,
                        arch=arch,
                        ours=f"{ours['backend']} {ours['setting']}",
                        ours_flops_per_s=ours["counter_flops_per_s"],
                        peer=peer["setting"],
                        peer_flops_per_s=peer["counter_flops_per_s"],
                        ratio=ours["counter_flops_per_s"] / peer["counter_flops_per_s"],
                        throughput_ratio=ours["images_per_s"] / peer["images_per_s"],
                    )
                )
    if detail:
        unet = [d["ratio"] for d in detail if d["arch"] == "unet"] or [d["ratio"] for d in detail]
        worst = min(unet)
        out.append(
            dict(
                target="achieved FLOP/s >= 1.2x diffusers' UNet2DModel (U-Net vs U-Net, worst size)",
                value=worst,
                threshold=TARGETS["flops_vs_peer"],
                met=worst >= TARGETS["flops_vs_peer"],
                detail=detail,
            )
        )
    # 3. U-ViT training step at >= 50% of the matmul FLOP/s (best backend per size).
    detail = []
    for size in sorted({r["image_size"] for r in train if r["arch"] == "uvit"}):
        best = _best(
            [
                r
                for r in train
                if r["arch"] == "uvit" and r["image_size"] == size and r.get("fraction_of_matmul")
            ],
            key=lambda r: -r["fraction_of_matmul"],
        )
        if best:
            detail.append(
                dict(
                    image_size=size,
                    best=f"{best['backend']} {best['setting']}",
                    fraction=best["fraction_of_matmul"],
                    flops_per_s=best["flops_per_s"],
                )
            )
    if detail:
        worst = min(d["fraction"] for d in detail)
        out.append(
            dict(
                target="U-ViT training step >= 50% of the matmul FLOP/s (best backend, worst size)",
                value=worst,
                threshold=TARGETS["uvit_matmul_fraction"],
                met=worst >= TARGETS["uvit_matmul_fraction"],
                detail=detail,
            )
        )
    # 4. Compiled sampler >= 3x the Python loop.
    samples = _ok(results["sample"])
    if samples:
        detail = [
            dict(
                backend=s["backend"],
                arch=s["arch"],
                vs_eager_loop=s["speedup_vs_eager_loop"],
                vs_compiled_step_loop=s["speedup_vs_compiled_step_loop"],
            )
            for s in samples
        ]
        compiled_backends = [d for d in detail if d["backend"] != "torch"] or detail
        worst = min(d["vs_eager_loop"] for d in compiled_backends)
        out.append(
            dict(
                target="compiled sampler >= 3x the per-step Python loop of eager steps "
                "(JAX/TF; torch has no compiled loop)",
                value=worst,
                threshold=TARGETS["sampler_speedup"],
                met=worst >= TARGETS["sampler_speedup"],
                detail=detail,
            )
        )
    return out


# --------------------------------------------------------------------------
# Markdown.
# --------------------------------------------------------------------------


def _e(record, n=80):
    """An error message on one table line."""
    return " ".join(str(record.get("error", "")).split())[:n].replace("|", "/")


def _f(v, fmt="{:.2f}"):
    return "-" if v is None else fmt.format(v)


def markdown(results):
    m = results["machine"]
    lines = [
        f"# Benchmarks ({results['profile']} profile)",
        "",
        f"Machine: {m['cpu_model']}, {m['usable_cores']} usable cores ({m['cpu_count']} CPUs), "
        f"{m['platform']}, Python {m['python']}. Run at {m['time']}.",
        f"Load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in results['load_start'])}; "
        f"at the end: {', '.join(f'{x:.2f}' for x in results['load_end'])}.",
    ]
    if results.get("load_warning"):
        lines.append(f"**Warning: {results['load_warning']}**")
    lines.append(
        "Versions: "
        + "; ".join(
            f"{b}: " + ", ".join(f"{k} {v}" for k, v in vs.items() if v)
            for b, vs in results["versions"].items()
        )
    )
    lines += [
        "",
        "Float32 throughout. Median of the timed steps; the first step (tracing/compilation) is "
        "reported apart as `compile` = first step - median.",
        "",
    ]
    if results.get("profile_note"):
        lines += [results["profile_note"], ""]
    peak = results.get("matmul_peak_flops_per_s")
    lines += [
        "## Dense matmul reference",
        "",
        f"{results['matmul_n']}x{results['matmul_n']} float32 product, best of several; the peak used "
        f"for fractions below is the best of these: **{_f(peak and peak / 1e9, '{:.1f}')} GFLOP/s** "
        f"({results.get('matmul_peak_source')}).",
        "",
        "| library | GFLOP/s |",
        "|---|---|",
    ]
    for k, v in results["matmul"].items():
        lines.append(f"| {k} | {_f(v and v / 1e9, '{:.1f}')} |")
    lines += [
        "",
        "## Training throughput",
        "",
        "GFLOP/step from XLA's cost analysis of the stateless Keras train step (JAX), the same model "
        "on every backend; % of matmul = achieved FLOP/s over the matmul peak above. `torch.compile` "
        "rows compile with static shapes (dynamic-shape recompiles hit an inductor bug; "
        "benchmarks/README.md).",
        "",
        "| arch | px | batch | backend | setting | ms/step | images/s | compile (s) | GFLOP/step | GFLOP/s | % of matmul |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(
        results["train"],
        key=lambda r: (r.get("arch", ""), r.get("image_size", 0), r.get("backend", "")),
    ):
        if "error" in r:
            lines.append(
                f"| {r.get('arch')} | {r.get('image_size')} | - | {r.get('backend')} | {r.get('setting')} "
                f"| error: {_e(r)} | | | | | |"
            )
            continue
        lines.append(
            f"| {r['arch']} | {r['image_size']} | {r['batch']} | {r['backend']} | {r['setting']} "
            f"| {r['ms_per_step']:.0f} | {r['images_per_s']:.1f} | {r['compile_s']:.1f} "
            f"| {_f(r.get('flops_per_step') and r['flops_per_step'] / 1e9, '{:.1f}')} "
            f"| {_f(r.get('flops_per_s') and r['flops_per_s'] / 1e9, '{:.1f}')} "
            f"| {_f(r.get('fraction_of_matmul') and 100 * r['fraction_of_matmul'], '{:.0f}%')} |"
        )
    if results["peer"]:
        lines += [
            "",
            "## The peer: diffusers UNet2DModel (native PyTorch)",
            "",
            "Same loss (v-prediction, eps weighting, cosine schedule, multiscale above 32 px) and Adam. "
            "FLOPs counted by `torch.utils.flop_counter.FlopCounterMode` (matmul, conv, attention; no "
            "elementwise ops) on both sides, so the FLOP/s ratio compares like with like.",
            "",
            "| model | px | batch | params (M) | setting | ms/step | images/s | compile (s) | counted GFLOP/step | GFLOP/s | % of matmul |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for p in results["peer"]:
            if "error" in p:
                lines.append(
                    f"| diffusers UNet2DModel | {p.get('image_size', '-')} | - | - | {p.get('setting', '-')} "
                    f"| error: {_e(p)} | | | | | |"
                )
                continue
            lines.append(
                f"| diffusers UNet2DModel | {p['image_size']} | {p['batch']} | {p['parameters'] / 1e6:.2f} | {p['setting']} "
                f"| {p['ms_per_step']:.0f} | {p['images_per_s']:.1f} | {p['compile_s']:.1f} "
                f"| {_f(p.get('flops_counter_per_step') and p['flops_counter_per_step'] / 1e9, '{:.1f}')} "
                f"| {_f(p.get('counter_flops_per_s') and p['counter_flops_per_s'] / 1e9, '{:.1f}')} "
                f"| {_f(p.get('fraction_of_matmul') and 100 * p['fraction_of_matmul'], '{:.0f}%')} |"
            )
    ours = sorted(
        {
            (r["arch"], r["image_size"], r["parameters"])
            for r in results["train"]
            if "parameters" in r
        }
    )
    if ours:
        lines += [
            "",
            "This package's models: "
            + "; ".join(f"{a} {s} px {n / 1e6:.2f} M params" for a, s, n in ours)
            + ".",
        ]
    if results.get("flops_crosscheck"):
        lines += [
            "",
            "FLOP counters compared (this package's models): FlopCounterMode / XLA cost analysis = "
            + ", ".join(
                f"{c['arch']} {c['image_size']} px {c['counter_over_xla']:.2f}"
                for c in results["flops_crosscheck"]
            )
            + ".",
        ]
    if results["sample"]:
        lines += [
            "",
            "## Sampling throughput",
            "",
            "Ancestral sampler, v-prediction, x_hat clipped. `compiled loop` = `model.generate` (one "
            "compiled call with `ops.fori_loop`); `Python loop, eager` = a Python `for` over the steps, "
            "the denoiser called eagerly; `Python loop, compiled steps` = the same loop, each step one "
            "compiled call (jax.jit / tf.function+XLA). On torch all three are eager.",
            "",
            "| backend | arch | px | batch | steps | compiled loop (img/s) | Python loop, eager (img/s) | Python loop, compiled steps (img/s) | compiled vs eager loop | compiled vs step loop | loop compile (s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in results["sample"]:
            if "error" in s:
                lines.append(
                    f"| {s.get('backend')} | {s.get('arch')} | - | - | - | error: {_e(s)} | | | | | |"
                )
                continue
            ips = s["images_per_s"]
            lines.append(
                f"| {s['backend']} | {s['arch']} | {s['image_size']} | {s['batch']} | {s['steps']} "
                f"| {ips['compiled_loop']:.2f} | {ips['python_loop_eager']:.2f} | {ips['python_loop_compiled_steps']:.2f} "
                f"| {s['speedup_vs_eager_loop']:.2f}x | {s['speedup_vs_compiled_step_loop']:.2f}x "
                f"| {s['compiled_loop_compile_s']:.1f} |"
            )
    lines += ["", "## Targets", "", "| target | measured | threshold | met |", "|---|---|---|---|"]
    for t in results["targets"]:
        lines.append(
            f"| {t['target']} | {t['value']:.2f} | {t['threshold']} | {'yes' if t['met'] else '**no**'} |"
        )
    for t in results["targets"]:
        if t["target"].startswith("every backend"):
            lines += [
                "",
                "Slowdown of each backend (best setting) against the fastest:",
                "",
                "| arch | px | " + " | ".join(sorted(t["detail"][0]["slowdown_vs_fastest"])) + " |",
                "|---|---|" + "---|" * len(t["detail"][0]["slowdown_vs_fastest"]),
            ]
            for d in t["detail"]:
                lines.append(
                    f"| {d['arch']} | {d['image_size']} | "
                    + " | ".join(
                        f"{v:.2f}x ({d['best_setting'][b]})"
                        for b, v in sorted(d["slowdown_vs_fastest"].items())
                    )
                    + " |"
                )
        if t["target"].startswith("achieved FLOP/s"):
            lines += [
                "",
                "Achieved (counted) FLOP/s against the peer's best setting:",
                "",
                "| px | arch | ours (best) | GFLOP/s | peer (best) | GFLOP/s | FLOP/s ratio | images/s ratio |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for d in t["detail"]:
                lines.append(
                    f"| {d['image_size']} | {d['arch']} | {d['ours']} | {d['ours_flops_per_s'] / 1e9:.1f} "
                    f"| {d['peer']} | {d['peer_flops_per_s'] / 1e9:.1f} | {d['ratio']:.2f} | {d['throughput_ratio']:.2f} |"
                )
    notes = results.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Plots.
# --------------------------------------------------------------------------


def plots(results, out, stem):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    train = _ok(results["train"])
    peers = _ok(results["peer"])
    sizes = sorted({r["image_size"] for r in train} | {p["image_size"] for p in peers})
    series = {}
    for r in train:
        series.setdefault(f"{r['arch']} {r['backend']} {r['setting']}", {})[r["image_size"]] = r
    for p in peers:
        series.setdefault(f"diffusers {p['setting']}", {})[p["image_size"]] = p
    if series:  # nothing to draw in a sampling-only run
        fig, axes = plt.subplots(1, 2, figsize=(13, 5))
        for label, by_size in sorted(series.items()):
            xs = [s for s in sizes if s in by_size]
            style = (
                "s--"
                if label.startswith("diffusers")
                else ("o-" if label.startswith("uvit") else "^-")
            )
            axes[0].plot(xs, [by_size[s]["images_per_s"] for s in xs], style, label=label)
            fr = [
                (s, by_size[s].get("fraction_of_matmul"))
                for s in xs
                if by_size[s].get("fraction_of_matmul")
            ]
            if fr:
                axes[1].plot([a for a, _ in fr], [100 * b for _, b in fr], style, label=label)
        for ax in axes:
            ax.set_xscale("log", base=2)
            ax.set_xticks(sizes)
            ax.set_xticklabels([str(s) for s in sizes])
            ax.set_xlabel("image size (px)")
        axes[0].set_yscale("log")
        axes[0].set_ylabel("training images/s")
        axes[0].set_title("Training throughput (float32)")
        axes[1].axhline(50, color="gray", lw=0.8, ls=":")
        axes[1].set_ylabel("% of the dense matmul FLOP/s")
        axes[1].set_title("FLOP efficiency (peer: counted FLOPs)")
        axes[1].legend(fontsize=7, loc="best")
        m = results["machine"]
        fig.suptitle(
            f"{m['cpu_model']}, {m['usable_cores']} cores, load {results['load_start'][0]:.1f}",
            fontsize=9,
        )
        fig.tight_layout()
        path = out / f"{stem}_train.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    samples = _ok(results["sample"])
    if samples:
        fig, ax = plt.subplots(figsize=(7, 4))
        kinds = ["compiled_loop", "python_loop_compiled_steps", "python_loop_eager"]
        labels = [f"{s['backend']}\n{s['arch']}" for s in samples]
        width = 0.27
        for i, k in enumerate(kinds):
            ax.bar(
                [j + (i - 1) * width for j in range(len(samples))],
                [s["images_per_s"][k] for s in samples],
                width,
                label=k.replace("_", " "),
            )
        ax.set_xticks(range(len(samples)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("images/s")
        ax.set_yscale("log")
        ax.set_title(
            f"Sampling, {samples[0]['steps']}-step ancestral, batch {samples[0]['batch']}, "
            f"{samples[0]['image_size']} px"
        )
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{stem}_sampling.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def write(results, out, stem):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    derive(results)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1, default=str))
    (out / f"{stem}.md").write_text(markdown(results))
    pngs = plots(results, out, stem)
    return [out / f"{stem}.json", out / f"{stem}.md", *pngs]
