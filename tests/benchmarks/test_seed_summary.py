"""benchmarks/seed_summary.py: means, spreads and ratios of evaluation JSONs
over seeds, against hand-computed values."""

import json

import pytest

from benchmarks import seed_summary


def write_result(folder, sampler, steps, seed, accuracy, fd_ratio, pixel_fd_ratio):
    result = dict(
        sampler=sampler,
        steps=steps,
        spacing="time",
        seed=seed,
        class_accuracy=accuracy,
        fd_ratio=fd_ratio,
        pixel_fd_ratio=pixel_fd_ratio,
    )
    (folder / f"{sampler}_{steps}_seed{seed}.json").write_text(json.dumps(result))


def test_means_spreads_and_ratios_on_shared_seeds(tmp_path):
    write_result(tmp_path, "ancestral", 128, 0, 0.96, 1.5, 1.0)
    write_result(tmp_path, "ancestral", 128, 1, 0.98, 1.7, 1.2)
    write_result(tmp_path, "dpmpp-2m-sde", 16, 0, 0.97, 1.8, 1.1)
    write_result(tmp_path, "dpmpp-2m-sde", 16, 1, 0.97, 2.0, 1.1)
    write_result(tmp_path, "dpmpp-2m-sde", 16, 2, 0.97, 9.0, 1.1)  # no baseline seed 2
    (tmp_path / "samplers.json").write_text(json.dumps({"rows": []}))  # not an evaluation

    seed_summary.main([str(tmp_path), "--baseline", "ancestral:128:time"])

    summary = json.loads((tmp_path / "summary.json").read_text())
    baseline, solver = summary["rows"]
    assert baseline["seeds"] == [0, 1] and solver["seeds"] == [0, 1, 2]
    assert baseline["fd_ratio"]["mean"] == pytest.approx(1.6)
    assert baseline["fd_ratio"]["std"] == pytest.approx(0.1414214)
    assert baseline["class_accuracy"]["min"] == 0.96
    assert solver["fd_ratio"]["mean"] == pytest.approx(12.8 / 3)
    assert solver["fd_ratio"]["over_baseline"] == pytest.approx(1.9 / 1.6)
    assert solver["pixel_fd_ratio"]["over_baseline"] == pytest.approx(1.0)
    assert "over_baseline" not in solver["class_accuracy"]
    table = (tmp_path / "summary.md").read_text()
    assert "| dpmpp-2m-sde | 16 | time | 3 |" in table and "1.19x" in table


def test_bad_folders_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="No `simple-diffusion evaluate --json` results"):
        seed_summary.main([str(tmp_path)])
    write_result(tmp_path, "ddim", 8, 0, 0.9, 3.0, 2.0)
    with pytest.raises(ValueError, match=r"Baseline \('ancestral', 128, 'time'\) is not among"):
        seed_summary.main([str(tmp_path)])
    (tmp_path / "copy.json").write_text((tmp_path / "ddim_8_seed0.json").read_text())
    with pytest.raises(ValueError, match="a second result for .*'ddim', 8, 'time'.*, seed 0"):
        seed_summary.main([str(tmp_path)])


def test_several_folders_are_training_runs_summarised_in_their_parent(tmp_path):
    # Both runs were sampled with sampling seed 0: the runs are the seeds.
    for run, (accuracy, fd_ratio) in {"seed0": (0.9, 2.0), "seed1": (0.8, 3.0)}.items():
        (tmp_path / run).mkdir()
        write_result(tmp_path / run, "ancestral", 128, 0, accuracy, fd_ratio, 1.0)
        write_result(tmp_path / run, "dpmpp-2m-sde", 32, 0, accuracy, 2 * fd_ratio, 1.0)

    seed_summary.main([str(tmp_path / "seed0"), str(tmp_path / "seed1")])

    baseline, solver = json.loads((tmp_path / "summary.json").read_text())["rows"]
    assert baseline["seeds"] == ["seed0/0", "seed1/0"]
    assert baseline["class_accuracy"]["mean"] == pytest.approx(0.85)
    assert baseline["fd_ratio"]["std"] == pytest.approx(0.7071068)
    assert solver["fd_ratio"]["over_baseline"] == pytest.approx(2.0)
    assert "| dpmpp-2m-sde | 32 | time | 2 |" in (tmp_path / "summary.md").read_text()
    with pytest.raises(ValueError, match="a second result for .*, seed seed1/0"):
        seed_summary.main([str(tmp_path / "seed1"), str(tmp_path / "seed1")])
