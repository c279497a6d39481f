"""One entry point for the CPU benchmarks.

    python -m benchmarks.run                 # the full run (~20 min on 2 idle cores)
    python -m benchmarks.run --quick         # the smoke-sized run (< ~1 min per backend, idle)
    python -m benchmarks.run --backends jax,torch --out /tmp/bench --no-peer
    python -m benchmarks.run --wait-load 2.5 # wait (up to --wait-max-min) for a quiet machine
    python -m benchmarks.run --profile paper --only matmul,train --no-peer
                                             # a U-ViT with most of its step in a transformer

Each backend runs in its own subprocess (KERAS_BACKEND is set before Keras is
imported), as does the diffusers peer; each gets a timeout and its errors are
recorded, not raised. Writes `<out>/cpu_<profile>.{json,md}` and
`<out>/cpu_<profile>_{train,sampling}.png`. Peak memory against resolution
is `benchmarks/memory.py` (`--memory` runs it too; its output is
`<out>/memory.*`).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

from benchmarks import common, report

ROOT = pathlib.Path(__file__).resolve().parent.parent
BACKENDS = ("jax", "tensorflow", "torch")
# Seconds per subprocess (a worker skips what would start after 85% of it).
TIMEOUTS = {
    "micro": dict(jax=300, tensorflow=300, torch=300, peer=300),
    "quick": dict(jax=300, tensorflow=300, torch=300, peer=300),
    # ~1.5-2x the idle-machine estimate per backend (benchmarks/README.md, "The full profile").
    "full": dict(jax=600, tensorflow=660, torch=840, peer=600),
    "paper": dict(jax=600, tensorflow=600, torch=900, peer=300),
}


def _subprocess(module, args, backend, timeout, log):
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    }
    command = [sys.executable, "-m", module, *args]
    print(f"[run] {backend}: {' '.join(command)} (timeout {timeout} s)", flush=True)
    start = time.time()
    try:
        proc = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
        stdout, stderr, error = proc.stdout, proc.stderr, None
        if proc.returncode != 0:
            error = (
                f"exit code {proc.returncode}: " + (stderr.strip().splitlines() or ["?"])[-1][:300]
            )
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        error = f"timeout after {timeout} s"
    if log is not None:
        log.write(f"==== {module} {backend} ({time.time() - start:.0f} s)\n{stderr[-20000:]}\n")
    records = common.parse_results(stdout)
    print(
        f"[run] {backend}: {len(records)} records in {time.time() - start:.0f} s"
        + (f"; {error}" if error else ""),
        flush=True,
    )
    return records, error


def _collect(results, records, backend):
    for r in records:
        kind = r.get("kind")
        if kind == "info":
            results["versions"][r["backend"]] = r["versions"]
        elif kind == "matmul":
            results["matmul"][r["backend"]] = r.get("flops_per_s")
        elif kind in ("train", "sample", "peer", "flops"):
            results[
                {"train": "train", "sample": "sample", "peer": "peer", "flops": "flops"}[kind]
            ].append(r)
        elif kind == "done":
            pass
        elif "error" in r:
            results["errors"].append(dict(r, backend=backend))


def wait_for_load(threshold, max_minutes):
    """Polls the 1-minute load average until it is below `threshold`."""
    deadline = time.time() + 60 * max_minutes
    while True:
        load = os.getloadavg()[0]
        if load < threshold:
            print(f"[run] load {load:.2f} < {threshold}: starting", flush=True)
            return True, load
        if time.time() > deadline:
            print(
                f"[run] load still {load:.2f} after {max_minutes} min: running anyway", flush=True
            )
            return False, load
        print(f"[run] load {load:.2f} >= {threshold}: waiting", flush=True)
        time.sleep(30)


def run(
    profile="quick",
    backends=BACKENDS,
    out=None,
    peer=True,
    in_process=False,
    timeout=None,
    notes=(),
    load_warning=None,
    memory=False,
    only=None,
    archs=None,
):
    """Runs the benchmarks and writes the result files; returns (results, paths).

    `in_process=True` measures the current Keras backend in this process
    (the smoke test); otherwise each backend gets its own subprocess.
    """
    out = pathlib.Path(out or ROOT / "benchmarks" / "results")
    p = common.PROFILES[profile]
    timeouts = {k: timeout or v for k, v in TIMEOUTS[profile].items()}
    results = dict(
        profile=profile,
        machine=common.machine_info(),
        load_start=list(os.getloadavg()),
        matmul_n=p["matmul_n"],
        versions={},
        matmul={},
        train=[],
        sample=[],
        peer=[],
        flops=[],
        errors=[],
        notes=list(notes),
        profile_note=common.PROFILE_NOTES.get(profile),
    )
    if load_warning:
        results["load_warning"] = load_warning
    results["matmul"]["numpy"] = common.matmul_flops(p["matmul_n"], p["matmul_repeats"], "numpy")
    stem = f"cpu_{profile}" + ("_" + "_".join(only) if only else "")
    out.mkdir(parents=True, exist_ok=True)
    log = None if in_process else open(out / f"{stem}.log", "w")
    if in_process:
        import keras

        from benchmarks import peer as peer_module
        from benchmarks import worker

        records = []
        worker.measure_backend(profile, emit=records.append)
        _collect(results, records, keras.config.backend())
        if peer:
            try:
                import torch  # noqa: F401

                records = []
                peer_module.measure_peer(profile, emit=records.append)
                _collect(results, records, "torch (native)")
            except ImportError:
                results["notes"].append("peer skipped: torch is not installed")
    else:
        for backend in backends:
            extra = (["--only", ",".join(only)] if only else []) + (
                ["--archs", ",".join(archs)] if archs else []
            )
            records, error = _subprocess(
                "benchmarks.worker",
                ["--profile", profile, "--budget-s", str(0.85 * timeouts[backend]), *extra],
                backend,
                timeouts[backend],
                log,
            )
            _collect(results, records, backend)
            if error:
                results["errors"].append(dict(backend=backend, error=error))
        if "jax" not in backends and profile != "micro" and (not only or "train" in only):
            records, error = _subprocess(
                "benchmarks.worker",
                ["--profile", profile, "--only", "flops"],
                "jax",
                timeouts["jax"],
                log,
            )
            _collect(results, records, "jax")
        if peer:
            records, error = _subprocess(
                "benchmarks.peer",
                ["--profile", profile, "--budget-s", str(0.85 * timeouts["peer"])],
                "torch",
                timeouts["peer"],
                log,
            )
            _collect(results, records, "torch (native)")
            if error:
                results["errors"].append(dict(backend="peer", error=error))
        if memory:
            _subprocess("benchmarks.memory", [], "jax", 4 * timeouts["jax"], log)
        log.close()
    results["matmul"]["numpy (end)"] = common.matmul_flops(
        p["matmul_n"], p["matmul_repeats"], "numpy"
    )
    results["load_end"] = list(os.getloadavg())
    results["machine_end"] = common.machine_info()
    if max(results["load_start"][0], results["load_end"][0]) > 2.5 and not results.get(
        "load_warning"
    ):
        results["load_warning"] = (
            f"the 1-minute load average was {results['load_start'][0]:.1f} at the start and "
            f"{results['load_end'][0]:.1f} at the end on {results['machine']['usable_cores']} cores: "
            "other processes shared the CPU, so the timings are pessimistic and noisy"
        )
    for e in results["errors"]:
        results["notes"].append(f"error ({e.get('backend')}): {e.get('error')}")
    paths = report.write(results, out, stem)
    return results, paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small, smoke-test-sized run")
    parser.add_argument(
        "--profile",
        choices=sorted(common.PROFILES),
        default=None,
        help="full (the default), quick, paper (a U-ViT of the paper's proportions) or micro",
    )
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--no-peer", action="store_true", help="skip diffusers' UNet2DModel")
    parser.add_argument(
        "--memory", action="store_true", help="also run benchmarks/memory.py (slow)"
    )
    parser.add_argument("--timeout", type=int, default=None, help="seconds per backend subprocess")
    parser.add_argument(
        "--wait-load",
        type=float,
        default=None,
        help="wait until the 1-minute load average is below this",
    )
    parser.add_argument("--wait-max-min", type=float, default=15.0)
    parser.add_argument("--note", action="append", default=[], help="a note for the report")
    parser.add_argument(
        "--only",
        default=None,
        help="measure only some of matmul,train,sample (files: cpu_<profile>_<only>.*)",
    )
    parser.add_argument("--archs", default=None, help="e.g. uvit (default: both)")
    args = parser.parse_args()
    profile = args.profile or ("quick" if args.quick else "full")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in BACKENDS:
            parser.error(f"unknown backend {b!r}; expected some of {BACKENDS}")
    warning = None
    if args.wait_load:
        quiet, load = wait_for_load(args.wait_load, args.wait_max_min)
        if not quiet:
            warning = (
                f"the 1-minute load average never fell below {args.wait_load} in "
                f"{args.wait_max_min:.0f} minutes ({load:.1f} at the start): timings are taken on a shared, "
                "busy CPU and are pessimistic"
            )
    results, paths = run(
        profile,
        backends,
        args.out,
        peer=not args.no_peer,
        timeout=args.timeout,
        notes=args.note,
        load_warning=warning,
        memory=args.memory,
        only=args.only.split(",") if args.only else None,
        archs=args.archs.split(",") if args.archs else None,
    )
    print(paths[1].read_text())
    print("[run] wrote " + ", ".join(str(x) for x in paths))
    print(json.dumps(results["targets"], default=str)[:2000])


if __name__ == "__main__":
    main()
