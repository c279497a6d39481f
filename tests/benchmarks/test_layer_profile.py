"""Smoke test of the layer profile (`benchmarks/layers.py`): the quick shapes,
in-process, on the current backend (KERAS_BACKEND). Checks the records and
the table; never timings."""

import keras
import pytest

from benchmarks import layers


@pytest.fixture(scope="module")
def quick_results():
    backend = keras.config.backend()
    results = layers.new_results("quick", [backend])
    records = []
    layers.measure_layers(layers.SHAPES["quick"], emit=records.append)
    layers.collect(results, records, backend)
    results["load_end"] = results["load_start"]
    return results


def test_every_layer_has_a_timed_row(quick_results):
    specs = layers.layer_specs(layers.SHAPES["quick"])
    rows = quick_results["records"]
    assert (
        [r["id"] for r in rows] == list(layers.SHAPES["quick"]["rows"]) == [s["id"] for s in specs]
    )
    assert quick_results["versions"][keras.config.backend()]["keras"] == keras.__version__
    for r, spec in zip(rows, specs):
        assert "error" not in r, r
        assert r["backend"] == keras.config.backend()
        assert r["step"]["n"] == layers.SHAPES["quick"]["steps"]
        assert r["ms_per_step"] > 0 and r["step"]["median_s"] > 0 and r["compile_s"] >= 0
        if spec["forward_flops"] is None:  # the norms
            assert r["flops_per_step"] is None and r["gflops_per_s"] is None
        else:
            assert r["flops_per_step"] == layers.TRAIN_OVER_FORWARD * spec["forward_flops"] > 0
            assert r["gflops_per_s"] > 0


def test_output_shapes_follow_the_specs(quick_results):
    by_id = {r["id"]: r for r in quick_results["records"]}
    size, (_, width) = layers.SHAPES["quick"]["size"], layers.SHAPES["quick"]["widths"]
    assert by_id["conv_stride2"]["output_shape"] == [size // 2, size // 2, width]
    assert by_id["attention"]["output_shape"] == by_id["attention"]["input_shape"]


def test_full_rows_have_distinct_names():
    names = [s["name"] for s in layers.layer_specs(layers.SHAPES["full"])]
    assert len(names) == len(set(names)) == 11


def test_markdown_has_one_row_per_layer(quick_results):
    md = layers.markdown(quick_results)
    specs = layers.layer_specs(layers.SHAPES["quick"])
    table = md.split("Compile (first step")[0]
    rows = [
        line
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("| layer |")
    ]
    assert [row.split(" | ")[0][2:] for row in rows] == [s["name"] for s in specs]
    assert "JAX / fastest" in md and "Errors:" not in md


def test_flop_formulas():
    assert layers.conv_flops(1, 2, 3, 4, 5) == 2 * 1 * 4 * 9 * 4 * 5
    assert layers.dense_flops(2, 3, 4, 5) == 2 * 2 * 3 * 4 * 5
    # 4 projections of width 8 -> 2 heads x 4, plus scores and weighted sum over 3 tokens.
    assert layers.attention_flops(1, 3, 8, 2, 4) == 4 * 2 * 3 * 8 * 8 + 2 * 2 * 2 * 9 * 4


def test_write_saves_json_table_and_plot(quick_results, tmp_path):
    pytest.importorskip("matplotlib")
    paths = layers.write(quick_results, tmp_path, "layers_test")
    assert [p.name for p in paths] == ["layers_test.json", "layers_test.md", "layers_test.png"]
    assert all(p.stat().st_size > 0 for p in paths)
