"""benchmarks/profile_step.py: operations named back to layers, busy time,
and a real (tiny) profile on JAX's XLA and on eager PyTorch."""

import argparse
import os

import keras
import pytest

from benchmarks import profile_step


def test_groups_follow_the_layer_names_of_both_xla_frontends():
    groups = profile_step.XLA_GROUPS
    jax_name = "jit(train_step)/transpose(jvp(u_vi_t))/transformer_0/attention/vmap()/div"
    tf_name = "gradient_tape/u_vi_t_1/transformer_2_1/attention_1/value_1/MatMul/Sum_1"
    assert profile_step.group_of(jax_name, groups) == "attention"
    assert profile_step.group_of(tf_name, groups) == "attention"
    norm = "jit(train_step)/transpose(jvp(u_vi_t))/transformer_0/norm_attention/add_any"
    assert profile_step.group_of(norm, groups).startswith("transformer MLPs")
    assert profile_step.group_of("jit(train_step)/adam_w/mul", groups) == "optimizer and EMA"
    assert profile_step.group_of("u_vi_t_1/inverse_dwt_1/pad", groups).startswith("wavelet")
    assert profile_step.group_of("", groups) == profile_step.OTHER
    assert profile_step.group_of("aten::convolution_backward", profile_step.TORCH_GROUPS) == (
        "convolutions"
    )


def test_busy_time_counts_overlaps_once():
    assert profile_step.busy_time([(0, 10), (5, 15), (20, 25), (21, 22)]) == 20
    assert profile_step.busy_time([]) == 0


def test_operations_are_named_through_the_dumped_hlo(tmp_path):
    (tmp_path / "module_0007.jit_train_step.cpu_after_optimizations.txt").write_text(
        '  %dot.3 = f32[2,2]{1,0} dot(%a, %b), metadata={op_name="jit(train_step)/jvp(u_vi_t)'
        '/transformer_0/attention/dot_general" stack_frame_id=1}\n'
        '  ROOT %fusion.1 = f32[2]{0} fusion(%c), kind=kLoop, metadata={op_name="adam_w/add"}\n'
        "  %copy.2 = f32[2]{0} copy(%d)\n"
    )
    operations = [
        ("thread a", "dot.3", 7, 0, 4_000_000),
        ("thread b", "dot.3", 7, 2_000_000, 4_000_000),
        ("thread a", "fusion.1", 7, 10_000_000, 2_000_000),
        ("thread a", "copy.2", 7, 12_000_000, 2_000_000),
    ]
    summary = profile_step.summarize_xla(operations, str(tmp_path), steps=2)
    assert summary["groups_ms"] == {
        "attention": 4.0,
        "optimizer and EMA": 1.0,
        profile_step.OTHER: 1.0,
    }
    assert summary["operations_ms"] == 6.0 and summary["threads"] == 2
    assert summary["any_thread_busy_ms"] == 5.0
    assert summary["top_operations"][0] == dict(
        operation="dot.3",
        op_name="jit(train_step)/jvp(u_vi_t)/transformer_0/attention/dot_general",
        ms=4.0,
    )


def _tiny_args(sample_batch=0):
    return argparse.Namespace(
        dataset="digits",
        image_size=16,
        model="uvit-tiny",
        warmup=2,
        steps=2,
        sample_batch=sample_batch,
        sample_steps=3,
    )


def _check_profile(record, groups):
    assert "error" not in record, record
    assert record["wall_ms"] > 0 and record["operations_ms"] > 0
    assert 0 < record["cores_busy"] <= (os.cpu_count() or 1) + 0.5
    assert sum(record["groups_ms"].values()) == pytest.approx(record["operations_ms"])
    named = [group for group in record["groups_ms"] if group != profile_step.OTHER]
    assert set(named) <= {group for group, _ in groups}
    return named


@pytest.mark.backends("jax")
def test_a_tiny_profile_on_xla_names_the_layers():
    record = profile_step.run_backend(_tiny_args(), "jax")
    named = _check_profile(record, profile_step.XLA_GROUPS)
    assert {"attention", "optimizer and EMA", "wavelet (DWT and inverse)"} <= set(named)
    assert record["top_operations"] and record["any_thread_busy_ms"] > 0


@pytest.mark.backends("jax")
def test_a_tiny_sampling_profile_names_the_network_inside_the_loop():
    record = profile_step.run_backend(_tiny_args(sample_batch=2), "jax")
    named = _check_profile(record, profile_step.XLA_GROUPS)
    assert {"attention", "wavelet (DWT and inverse)"} <= set(named)
    assert "optimizer and EMA" not in named


@pytest.mark.slow
@pytest.mark.parametrize("sample_batch", [0, 2])
def test_a_tiny_profile_on_the_running_backend(sample_batch):
    backend = keras.config.backend()
    record = profile_step.run_backend(_tiny_args(sample_batch), backend)
    groups = profile_step.TORCH_GROUPS if backend == "torch" else profile_step.XLA_GROUPS
    assert _check_profile(record, groups)
    if backend == "torch":
        assert record["operations_a_call"] > 10


def test_bad_counts_are_refused_in_one_line(capsys):
    assert profile_step.main(["--sample-batch", "-1"]) == 2
    assert profile_step.main(["--sample-steps", "0"]) == 2
    assert capsys.readouterr().err.count("error:") == 2
