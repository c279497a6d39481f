"""Every example in examples/ runs, with its tiny settings
(KSD_EXAMPLE_TINY=1), on the backend under test.

Each runs as a user runs it, its file as `__main__` with its command-line
arguments, but in this process (`runpy`): a fresh interpreter spends more
time importing Keras and its backends than a tiny example takes to run. On
JAX the multi-device example runs in a fresh process with two CPU devices,
a number fixed when JAX starts.

Training on arrays and on several devices run on every backend. Fine-tuning,
distillation and text to image are `slow` (one backend in CI): on JAX and
TensorFlow their compilations and tracing take minutes of a 2-core CPU, and
the package's own tests cover those paths on every backend.
"""

import contextlib
import io
import os
import pathlib
import runpy
import subprocess
import sys

import keras
import numpy as np
import pytest
from device_flags import xla_flags

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"
TESTED = {
    "distill",
    "fine_tune",
    "multi_device",
    "text_to_image",
    "train_on_arrays",
    "train_on_folder",
}


def run_example(name, *args):
    """Runs examples/NAME.py with `args` and tiny settings; returns its stdout."""
    path = EXAMPLES / f"{name}.py"
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(output):
        patch.setenv("KSD_EXAMPLE_TINY", "1")
        patch.setattr(sys, "argv", [str(path), *map(str, args)])
        runpy.run_path(str(path), run_name="__main__")
    return output.getvalue()


@pytest.fixture(scope="module")
def arrays_run(tmp_path_factory):
    """The folder that examples/train_on_arrays.py wrote: the checkpoint the
    fine-tuning and distillation examples start from."""
    out = tmp_path_factory.mktemp("arrays_run")
    output = run_example("train_on_arrays", "--out", out)
    return out, output


def test_every_example_is_tested():
    assert {path.stem for path in EXAMPLES.glob("*.py")} == TESTED


def test_train_on_arrays(arrays_run):
    out, output = arrays_run
    model = keras.saving.load_model(out / "model.keras")
    assert (model.image_size, model.num_classes) == (16, 10)
    assert sorted(os.listdir(out / "checkpoints")) == ["step_000001.keras", "step_000002.keras"]
    assert f"wrote {out / 'final.png'}" in output


@pytest.mark.slow
def test_train_on_folder(tmp_path):
    runs = tmp_path / "runs"
    output = run_example("train_on_folder", "--steps", 2, "--image-size", 16, "--runs-dir", runs)
    model = keras.saving.load_model(runs / "latest" / "model.keras")
    # The made-up folder's two top-level classes, circles and squares.
    assert (model.image_size, model.num_classes) == (16, 2)
    assert os.listdir(runs / "latest" / "samples") and "Samples:" in output


@pytest.mark.slow
def test_fine_tune(arrays_run, tmp_path):
    out, _ = arrays_run
    output = run_example("fine_tune", out / "model.keras", "--out", tmp_path)
    before = keras.saving.load_model(out / "model.keras")
    after = keras.saving.load_model(tmp_path / "model.keras")
    changed = [
        not np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        for a, b in zip(before.denoiser.weights, after.denoiser.weights)
    ]
    assert any(changed)
    assert (tmp_path / "samples.png").is_file() and "fine-tuning" in output


@pytest.mark.slow
def test_distill(arrays_run, tmp_path):
    out, _ = arrays_run
    output = run_example("distill", out / "model.keras", "--out", tmp_path)
    student = keras.saving.load_model(tmp_path / "model.keras")
    assert (student.sampling_steps, student.sampler) == (2, "ddim")
    assert "the student samples in 2 steps" in output


@pytest.mark.slow
def test_text_to_image(tmp_path):
    output = run_example("text_to_image", "--out", tmp_path)
    (run_dir,) = [path for path in tmp_path.iterdir() if path.name != "latest"]
    assert (run_dir / "model.keras").is_file() and (run_dir / "prompts.png").is_file()
    for line in (
        "prompt adherence, guidance 3:",
        "prompt adherence, guidance 0:",
        "real drawings:",
    ):
        assert line in output


def test_multi_device():
    if keras.config.backend() != "jax":
        output = run_example("multi_device")
        assert "data-parallel replica(s)" in output
    else:
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "multi_device.py")],
            env=dict(os.environ, KSD_EXAMPLE_TINY="1", XLA_FLAGS=xla_flags(2)),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        output = result.stdout
        assert "jax: 2 data-parallel replica(s)" in output
    loss = float(output.split("loss after 4 steps: ")[1].split()[0])
    assert np.isfinite(loss)
