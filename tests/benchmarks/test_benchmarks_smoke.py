"""Smoke test of the benchmark code: the micro profile, in-process, on the
current backend (KERAS_BACKEND). Checks the files and keys; never timings."""

import json

import keras
import pytest

from benchmarks import common, report, run


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    results, paths = run.run("micro", out=out, in_process=True)
    return out, results, paths


def _positive(value):
    return isinstance(value, (int, float)) and value > 0


@pytest.mark.slow
def test_files_written(micro_run):
    out, _, paths = micro_run
    for name in ("cpu_micro.json", "cpu_micro.md", "cpu_micro_train.png", "cpu_micro_sampling.png"):
        assert (out / name).exists() and (out / name).stat().st_size > 0, name
    assert set(paths) >= {out / "cpu_micro.json", out / "cpu_micro.md"}
    loaded = json.loads((out / "cpu_micro.json").read_text())
    for key in (
        "machine",
        "load_start",
        "load_end",
        "matmul",
        "train",
        "sample",
        "peer",
        "targets",
    ):
        assert key in loaded, key
    machine = loaded["machine"]
    assert machine["cpu_model"] and machine["usable_cores"] >= 1 and len(machine["loadavg"]) == 3
    md = (out / "cpu_micro.md").read_text()
    assert "Training throughput" in md and "Sampling throughput" in md and "Load average" in md


@pytest.mark.slow
def test_training_records(micro_run):
    _, results, _ = micro_run
    backend = keras.config.backend()
    assert _positive(results["matmul"]["numpy"]) and _positive(results["matmul"][backend])
    train = [r for r in results["train"] if "error" not in r]
    assert train, results["train"]
    for r in train:
        assert r["backend"] == backend
        for key in ("ms_per_step", "images_per_s", "first_step_s", "parameters"):
            assert _positive(r[key]), (key, r)
        assert r["compile_s"] >= 0
        if backend == "jax":
            assert _positive(r["flops_per_step"]) and _positive(r["fraction_of_matmul"])
        if backend == "torch":
            assert _positive(r["flops_counter_per_step"])


@pytest.mark.slow
def test_sampling_records(micro_run):
    _, results, _ = micro_run
    samples = [s for s in results["sample"] if "error" not in s]
    assert samples, results["sample"]
    for s in samples:
        assert all(_positive(v) for v in s["images_per_s"].values()), s
        assert _positive(s["speedup_vs_eager_loop"])


@pytest.mark.slow
def test_peer_records(micro_run):
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    _, results, _ = micro_run
    peers = [p for p in results["peer"] if "error" not in p]
    assert peers, results["peer"]
    for p in peers:
        assert _positive(p["images_per_s"]) and _positive(p["flops_counter_per_step"])


@pytest.mark.slow
def test_targets_are_evaluated(micro_run):
    _, results, _ = micro_run
    for t in results["targets"]:
        assert {"target", "value", "threshold", "met"} <= set(t)


def test_peer_loss_is_the_v_loss():
    """The torch loss of the peer matches the package's loss on the same draw."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from benchmarks import peer

    class Zero(torch.nn.Module):  # v_hat = 0: loss = E[alpha^2 v^2]
        def forward(self, z, t):
            return type("Out", (), {"sample": torch.zeros_like(z)})()

    x = torch.zeros((4, 3, 32, 32))
    g = torch.Generator().manual_seed(0)
    loss = float(peer.v_loss(Zero(), x, generator=g))
    # With x = 0: v = alpha * eps, error = alpha^2 eps, E = E[alpha^4] * 1 in (0, 1).
    assert 0.0 < loss < 1.0


def test_profiles_are_consistent():
    for name, p in common.PROFILES.items():
        for size in p["sizes"]:
            for arch in p["archs"]:
                kwargs = common.model_kwargs(arch, size, name)
                assert kwargs["image_size"] == size
    assert report.TARGETS["backend_spread"] == 1.25


def test_full_profile_limits_are_documented():
    """The full profile's cuts (to fit ~20 min on 2 cores) reach the report's header."""
    full = common.PROFILES["full"]
    assert common.sizes_for("full", common.TORCH_COMPILE) == [32]
    assert common.sizes_for("full", "jit (default)") == full["sizes"]
    assert common.sizes_for("micro", common.TORCH_COMPILE) == common.PROFILES["micro"]["sizes"]
    assert common.batch_for("full", 32) == full["batch"]
    note = common.PROFILE_NOTES["full"]
    assert (
        "torch.compile" in note
        and f"{full['sample_steps']} steps" in note
        and f"{full['steps']} timed" in note
    )
    results = dict(
        machine=common.machine_info(),
        load_start=[0.0] * 3,
        load_end=[0.0] * 3,
        versions={},
        profile="full",
        matmul_n=8,
        matmul={},
        train=[],
        sample=[],
        peer=[],
        flops=[],
        notes=[],
        profile_note=note,
    )
    report.derive(results)
    table = report.markdown(results)
    assert note in table
    # A run without sampling or the peer (`--only matmul,train --no-peer`)
    # leaves their sections out rather than print empty tables.
    assert "## Training throughput" in table
    assert "## Sampling throughput" not in table and "## The peer" not in table


def test_known_torch_inductor_error_is_named():
    from benchmarks import worker

    e = RuntimeError(
        "LoweringException: ValueRangeError: Invalid ranges [0:-1]\n  target: aten.convolution_backward"
    )
    assert worker.describe_error(e).startswith("torch inductor bug")
    assert worker.describe_error(ValueError("x")) == "ValueError: x"


def test_torch_compile_rows_use_static_shapes():
    pytest.importorskip("torch")
    import torch._dynamo

    from benchmarks import worker

    before = torch._dynamo.config.automatic_dynamic_shapes
    try:
        assert worker.torch_compile_setup()["automatic_dynamic_shapes"] is False
        assert torch._dynamo.config.automatic_dynamic_shapes is False
    finally:
        torch._dynamo.config.automatic_dynamic_shapes = before


def _micro_jax_model():
    from benchmarks import worker

    model = worker._model("uvit", 16, "micro", "auto")
    x = worker._images(2, 16)
    model._symbolic_build(data_batch=(x,))
    return model, x


@pytest.mark.backends("jax")  # XLA cost analysis
def test_jax_flops_fall_back_to_the_cpu_lowering(monkeypatch):
    """On the H200 `Lowered.cost_analysis()` returned None; the count then comes
    from the same step lowered for the CPU (no compile)."""
    import jax

    from benchmarks import worker

    model, x = _micro_jax_model()
    original = jax.stages.Lowered.cost_analysis
    calls = []

    def first_none(self):
        calls.append(1)
        return None if len(calls) == 1 else original(self)

    monkeypatch.setattr(jax.stages.Lowered, "cost_analysis", first_none)
    detail = {}
    assert _positive(worker.flops_jax(model, x, detail)) and detail["source"] == "lowered for cpu"


@pytest.mark.backends("jax")  # the GPU run's JAX row, on the CPU
def test_gpu_jax_row_survives_missing_cost_analysis(monkeypatch, tmp_path):
    """The GPU JAX row died with "TypeError: 'NoneType' object is not subscriptable"
    (`analysis["flops"]` on a None analysis). With no analysis at all the row
    must keep its timing and show '-' for the FLOPs (mixed_bfloat16, as on the GPU)."""
    import jax

    from benchmarks import gpu

    def no_compile(self):
        raise RuntimeError("no compiled analysis here")

    monkeypatch.setattr(jax.stages.Lowered, "cost_analysis", lambda self: None)
    monkeypatch.setattr(jax.stages.Lowered, "compile", no_compile)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        record = gpu.bench("jax", "uvit", 32, 2, "jit (default)", "auto", 2, cpu_smoke=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert record["precision"] == "mixed_bfloat16" and _positive(record["images_per_s"])
    assert record["flops_xla"] is None and "no flops" in record["flops_xla_error"]
    results = dict(
        card="cpu-smoke",
        peak_tflops=None,
        peak_source=None,
        host=common.machine_info(),
        steps=2,
        records=[record],
        failures=[],
        wall_s=1.0,
    )
    md = gpu.write(results, tmp_path).read_text()
    row = [line for line in md.splitlines() if line.startswith("| jax |")][0]
    assert "error" not in row and row.rstrip(" |").endswith("| - | - | -")


@pytest.mark.parametrize(
    "xla_source, expected",
    [("compiled", "torch FlopCounterMode"), ("lowered", "XLA cost analysis")],
)
def test_gpu_flops_prefer_counts_that_see_every_matmul(tmp_path, xla_source, expected):
    """On the H200 the compiled module's analysis counted 1.12 TFLOP for a
    U-ViT step that torch's counter (and 6 x parameters x tokens) put near 8:
    cuBLAS and cuDNN calls are not counted. Every row of a shape takes the
    same, best count."""
    from benchmarks import gpu

    row = dict(kind="train", arch="uvit", image_size=128, batch=32, parameters=1e8)
    timing = dict(step_s=0.1, ms_per_step=100.0, images_per_s=320.0, compile_s=1.0)
    records = [
        {
            **row,
            **timing,
            "backend": "jax",
            "setting": "jit (default)",
            "flops_xla": 1.0e12,
            "flops_xla_source": xla_source,
        },
        {
            **row,
            **timing,
            "backend": "torch",
            "setting": "eager (default)",
            "flops_torch_counter": 8.0e12,
        },
    ]
    results = dict(
        card="NVIDIA H200",
        peak_tflops=1000.0,
        peak_source="test",
        host=common.machine_info(),
        steps=2,
        records=records,
        failures=[],
        wall_s=1.0,
    )
    gpu.write(results, tmp_path)
    count = 8.0e12 if expected.startswith("torch") else 1.0e12
    assert [(r["flops_source"], r["flops_per_step"]) for r in records] == [(expected, count)] * 2
    assert records[0]["mfu"] == pytest.approx(count / 0.1 / 1e12 / 1000.0)


@pytest.mark.slow
def test_capped_row_runs_in_a_child_and_is_killed_past_the_cap():
    """The full profile runs each torch.compile row in a child process with a
    compile cap; the same mechanism on the micro profile and this backend."""
    from benchmarks import worker

    setting = common.settings_for(keras.config.backend(), "micro")[0][0]
    (capped,) = worker.capped_row("micro", "uvit", 16, setting, cap_s=1)
    assert capped["error"].startswith("compile cap: no result within 1 s")
    records = worker.capped_row("micro", "uvit", 16, setting, cap_s=240, steps=1, warmup=0)
    assert len(records) == 1 and "error" not in records[0], records
    assert _positive(records[0]["images_per_s"]) and records[0]["compile_cap_s"] == 240


@pytest.mark.parametrize("backend", ["jax", "tensorflow", "torch"])
def test_full_profile_row_order(monkeypatch, backend):
    """Full profile, no measuring: defaults at every size, then sampling, then
    the compiled settings at 32 px (torch.compile through the capped child)."""
    from benchmarks import worker

    calls = []
    monkeypatch.setattr(worker, "_backend", lambda: backend)
    monkeypatch.setattr(
        worker,
        "bench_train",
        lambda arch, size, setting, *a, **k: (
            calls.append(("train", setting, size, arch, k["batch"])) or dict(kind="train")
        ),
    )
    monkeypatch.setattr(
        worker, "bench_sample", lambda arch, profile: calls.append(("sample", arch)) or {}
    )
    monkeypatch.setattr(
        worker,
        "capped_row",
        lambda profile, arch, size, setting, cap, *a: (
            calls.append(("capped", setting, size, arch, cap)) or [dict(kind="train")]
        ),
    )
    records = []
    worker.measure_backend("full", only=("train", "sample"), emit=records.append)
    default, *others = [s for s, _ in common.settings_for(backend, "full")]
    n_default = len(common.PROFILES["full"]["sizes"]) * 2
    assert all(c[:2] == ("train", default) and c[4] == 16 for c in calls[:n_default])
    assert calls[n_default] == ("sample", "uvit")
    rest = calls[n_default + 1 :]
    assert len(rest) == 2 * len(others) and all(c[2] == 32 for c in rest)
    if backend == "torch":
        assert all(c[0] == "capped" and c[4] == 300 for c in rest)
    assert not any("error" in r for r in records)
