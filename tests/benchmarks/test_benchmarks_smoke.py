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


def test_files_written(micro_run):
    out, _, paths = micro_run
    for name in ("cpu_micro.json", "cpu_micro.md", "cpu_micro_train.png", "cpu_micro_sampling.png"):
        assert (out / name).exists() and (out / name).stat().st_size > 0, name
    assert set(paths) >= {out / "cpu_micro.json", out / "cpu_micro.md"}
    loaded = json.loads((out / "cpu_micro.json").read_text())
    for key in ("machine", "load_start", "load_end", "matmul", "train", "sample", "peer", "targets"):
        assert key in loaded, key
    machine = loaded["machine"]
    assert machine["cpu_model"] and machine["usable_cores"] >= 1 and len(machine["loadavg"]) == 3
    md = (out / "cpu_micro.md").read_text()
    assert "Training throughput" in md and "Sampling throughput" in md and "Load average" in md


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


def test_sampling_records(micro_run):
    _, results, _ = micro_run
    samples = [s for s in results["sample"] if "error" not in s]
    assert samples, results["sample"]
    for s in samples:
        assert all(_positive(v) for v in s["images_per_s"].values()), s
        assert _positive(s["speedup_vs_eager_loop"])


def test_peer_records(micro_run):
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    _, results, _ = micro_run
    peers = [p for p in results["peer"] if "error" not in p]
    assert peers, results["peer"]
    for p in peers:
        assert _positive(p["images_per_s"]) and _positive(p["flops_counter_per_step"])


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
