"""What a run folder shows: TensorBoard events, the loss plot, the evaluation report."""

import glob
import math
import os

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_simple_diffusion.training import plots


def _events(run_dir):
    """`(tag, plugin, step, value)` of every summary in the run's event files."""
    found = []
    for path in glob.glob(os.path.join(run_dir, "tensorboard", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                found.append((value.tag, plugin, event.step, tf.make_ndarray(value.tensor)))
    return found


def test_tensorboard_holds_loss_learning_rate_grids_and_config(tiny_run):
    run_dir = os.path.realpath(tiny_run)
    events = _events(run_dir)
    # The tiny run: 4 steps in periods of 2, grids at steps 2 and 4.
    scalars = {
        (tag, step): float(value) for tag, plugin, step, value in events if plugin == "scalars"
    }
    assert sorted(scalars) == [
        ("learning_rate", 2),
        ("learning_rate", 4),
        ("loss", 2),
        ("loss", 4),
    ]
    assert all(math.isfinite(value) and value > 0 for value in scalars.values())
    # Each point is the mean loss of its period: the logged per-period loss.
    with open(os.path.join(run_dir, "log.csv")) as file:
        logged = [line.split(",") for line in file.read().splitlines()[1:]]
    for _, step, loss, learning_rate in logged:
        np.testing.assert_allclose(scalars["loss", int(step)], float(loss), rtol=1e-5)
        np.testing.assert_allclose(scalars["learning_rate", int(step)], float(learning_rate))

    images = {step: value for tag, plugin, step, value in events if tag == "samples"}
    assert sorted(images) == [2, 4]
    width, height, png = images[2]
    with open(os.path.join(run_dir, "samples", "step_000002.png"), "rb") as file:
        assert png == file.read()
    with Image.open(os.path.join(run_dir, "samples", "step_000002.png")) as grid:
        assert (int(width), int(height)) == grid.size

    (config,) = [value for tag, plugin, step, value in events if plugin == "text"]
    assert '"model": "uvit-tiny"' in config.item().decode()


def test_loss_plot_is_written_with_the_checkpoints(tiny_run):
    with Image.open(os.path.join(os.path.realpath(tiny_run), "loss.png")) as image:
        assert image.size == (700, 400)


def _red_pixels(path):
    with Image.open(path) as image:
        red, green, blue = np.moveaxis(np.asarray(image.convert("RGB")).astype(int), -1, 0)
    return int(((red > 200) & (green < 80) & (blue < 80)).sum())


def test_loss_plot_marks_a_non_finite_loss(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("epoch,step,loss,learning_rate\n0,10,0.5,0.001\n1,20,0.4,0.002\n")
    plots.plot_loss(str(log), str(tmp_path / "finite.png"))
    with open(log, "a") as file:
        file.write("2,30,nan,0.002\n")
    plots.plot_loss(str(log), str(tmp_path / "diverged.png"))
    assert _red_pixels(tmp_path / "finite.png") == 0
    assert _red_pixels(tmp_path / "diverged.png") > 100  # the title and the marker


def test_report_shows_samples_real_images_and_metrics(tmp_path):
    samples = np.random.default_rng(0).uniform(-1, 1, (20, 16, 16, 1))
    real = -np.ones((20, 16, 16, 1))  # black: easy to find in the page
    report = "class accuracy  95.00%\nfid             skipped: " + "no weights " * 10
    path = tmp_path / "report.png"
    plots.save_report(str(path), samples, report, real_images=real, title="run/model.keras")
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L")).astype(float)
    height, width = pixels.shape
    assert (width, height) == (1300, 450)
    middle_rows = pixels[int(0.3 * height) : int(0.7 * height)]
    # Left to right: the noisy samples, the black real images, the metrics' text.
    assert middle_rows[:, : int(0.25 * width)].std() > 50
    assert middle_rows[:, int(0.3 * width) : int(0.5 * width)].max() == 0
    text = middle_rows[:, int(0.55 * width) :]
    assert 100 < (text < 128).sum() < 0.2 * text.size
