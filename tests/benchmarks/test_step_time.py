"""benchmarks/step_time.py: a real (tiny) timed run, and the table of repeats."""

import json
import subprocess

import pytest

from benchmarks import step_time


@pytest.mark.slow
def test_a_tiny_run_times_its_steps_and_its_sampling():
    record = step_time.time_steps(
        "digits", 16, "float32", 1, 2, "uvit-tiny", sample_batches=[3], sample_steps=2
    )
    assert record["seconds_per_step"] > 0 and record["image_size"] == 16
    assert record["parameters"] > 1000 and record["batch_size"] == 32
    assert [sampled["batch"] for sampled in record["sampling"]] == [3]
    for sampled in record["sampling"]:
        assert sampled["compiled_loop_images_per_s"] > 0 and sampled["python_loop_images_per_s"] > 0


def test_sampling_rows_take_the_median_of_the_repeats_per_batch():
    records = [
        dict(
            backend="jax",
            precision="float32",
            sampling=[
                dict(batch=1, compiled_loop_images_per_s=c, python_loop_images_per_s=p),
                dict(batch=16, compiled_loop_images_per_s=10 * c, python_loop_images_per_s=p),
            ],
        )
        for c, p in ((2.0, 1.0), (4.0, 1.0), (3.0, 2.0))
    ]
    rows = {row["batch"]: row for row in step_time.summarize_sampling(records)}
    assert rows[1]["compiled_loop_median"] == 3.0 and rows[1]["python_loop_median"] == 1.0
    assert rows[16]["compiled_loop_median"] == 30.0 and rows[16]["xla_flags"] == ""


def test_repeats_give_a_median_each_setting_and_errors_a_row():
    records = [
        dict(backend="jax", precision="float32", load=[1.0, 1.2], seconds_per_step=s)
        for s in (0.3, 0.5, 0.4)
    ]
    records += [
        dict(backend="torch", precision="float32", load=[1.0, 1.0], seconds_per_step=s)
        for s in (0.2, 0.2)
    ]
    for record in records:
        record.update(parameters=10, batch_size=32)
    onednn = "--xla_cpu_use_onednn=true"
    records.append(
        dict(
            backend="jax",
            precision="float32",
            xla_flags=onednn,
            load=[1.0, 1.0],
            seconds_per_step=0.25,
            parameters=10,
            batch_size=32,
        )
    )
    records.append(dict(backend="torch", precision="bfloat16", load=[0.9, 1.0], error="Boom."))
    records.append(
        dict(
            backend="torch",
            precision="float32",
            jit_compile="false",
            load=[1.0, 1.0],
            seconds_per_step=0.3,
            parameters=10,
            batch_size=32,
        )
    )
    rows = {
        (r["backend"], r["precision"], r["xla_flags"], r["jit_compile"]): r
        for r in step_time.summarize(records)
    }
    assert rows["jax", "float32", "", "auto"]["median_s"] == pytest.approx(0.4)
    assert rows["jax", "float32", "", "auto"]["over_fastest"] == pytest.approx(2.0)
    assert rows["jax", "float32", onednn, "auto"]["over_fastest"] == pytest.approx(1.25)
    assert rows["torch", "float32", "", "auto"]["over_fastest"] == pytest.approx(1.0)
    assert rows["torch", "float32", "", "false"]["over_fastest"] == pytest.approx(1.5)
    settings = dict(dataset="digits", image_size=None, model=None, warmup=1, steps=2, repeats=3)
    results = dict(
        settings=settings,
        machine=dict(cpu_model="CPU", usable_cores=2),
        records=records,
        rows=list(rows.values()),
    )
    table = step_time.markdown(results)
    assert "| jax | float32 | - | auto | 0.400 (0.300-0.500) | 2.00x | 80.0 |" in table
    assert f"| jax | float32 | {onednn} | auto | 0.250 (0.250-0.250) | 1.25x | 128.0 |" in table
    assert "| torch | float32 | - | false | 0.300 (0.300-0.300) | 1.50x | 106.7 |" in table
    assert "| torch | bfloat16 | - | auto | error: Boom. | | |" in table
    assert "load 0.9-1.2" in table


def test_bad_counts_are_refused(capsys):
    assert step_time.main(["--steps", "0"]) == 2
    assert "must be at least 1" in capsys.readouterr().err
    assert step_time.main(["--sample-batches", "1,x"]) == 2
    assert "--sample-batches takes positive integers" in capsys.readouterr().err
    assert step_time.main(["--jit-compile", "auto,maybe"]) == 2
    assert "--jit-compile: expected auto, true or false; got 'maybe'" in capsys.readouterr().err


def test_each_setting_runs_the_same_run_in_its_own_process(monkeypatch, tmp_path):
    """The worker gets every option of the run, and each setting its backend,
    XLA flags and `jit_compile`; a failed worker's last line becomes the
    setting's error."""
    calls = []

    def fake_run(command, env, **kwargs):
        calls.append((command, env["KERAS_BACKEND"], env["XLA_FLAGS"]))
        return subprocess.CompletedProcess(command, 1, "", "Traceback\nValueError: bad.\n")

    monkeypatch.setattr(step_time.subprocess, "run", fake_run)
    args = ["--backends", "jax,torch", "--precisions", "bfloat16", "--model", "uvit-tiny"]
    args += ["--xla-flags", ";--xla_cpu_use_onednn=true", "--repeats", "1", "--steps", "3"]
    args += ["--jit-compile", "auto,false"]
    assert step_time.main([*args, "--out", str(tmp_path)]) == 0
    jit = [command[command.index("--jit-compile") + 1] for command, _, _ in calls]
    assert [(backend, flags, jit) for (_, backend, flags), jit in zip(calls, jit)] == [
        ("jax", "", "auto"),
        ("jax", "", "false"),
        ("jax", "--xla_cpu_use_onednn=true", "auto"),
        ("jax", "--xla_cpu_use_onednn=true", "false"),
        ("torch", "", "auto"),
        ("torch", "", "false"),
        ("torch", "--xla_cpu_use_onednn=true", "auto"),
        ("torch", "--xla_cpu_use_onednn=true", "false"),
    ]
    command = calls[0][0]
    worker = command[command.index("--worker") :]
    assert worker == [
        "--worker", "bfloat16", "--jit-compile", "auto", "--dataset", "digits",
        "--model", "uvit-tiny", "--warmup", "10", "--steps", "3", "--sample-steps", "32",
    ]  # fmt: skip
    results = json.loads((tmp_path / "digits.json").read_text())
    assert results["settings"]["model"] == "uvit-tiny" and results["settings"]["repeats"] == 1
    assert {record["error"] for record in results["records"]} == {"ValueError: bad."}
