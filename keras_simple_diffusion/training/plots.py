"""Figures of a run folder, drawn with matplotlib's Agg canvas (no display):
the loss curve of `log.csv` and the one-page report of `evaluate`.

Both are written atomically (`keras_simple_diffusion.files`).
"""

import math
import re
import textwrap

from matplotlib.figure import Figure

from keras_simple_diffusion import files
from keras_simple_diffusion.training import runs
from keras_simple_diffusion.training.images import image_grid

# Characters per line of the report's metrics table; longer lines wrap.
REPORT_WIDTH = 72


def _save(figure, path):
    with files.atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100)


def plot_loss(log_path, path):
    """Draws the loss (log scale) and learning rate of a `log.csv` against
    the optimizer step; writes a PNG at `path`.

    Non-finite losses are left out of the curve and marked on the x-axis.

    Example:
    >>> plot_loss("runs/x/log.csv", "runs/x/loss.png")  # doctest: +SKIP
    """
    rows = runs.read_log(log_path)
    steps = [row.get("step", row["epoch"] + 1) for row in rows]
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    finite = [(step, row["loss"]) for step, row in zip(steps, rows) if math.isfinite(row["loss"])]
    if finite:
        axes.plot(*zip(*finite), marker=".", color="C0", label="loss")
    if all(loss > 0 for _, loss in finite) and finite:
        axes.set_yscale("log")
    bad = [step for step, row in zip(steps, rows) if not math.isfinite(row["loss"])]
    if bad:
        axes.plot(bad, [0] * len(bad), "x", color="red", transform=axes.get_xaxis_transform())
        axes.set_title(f"loss not finite from step {bad[0]:g}", color="red")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (mean over each period)", color="C0")
    rates = [
        (step, row["learning_rate"]) for step, row in zip(steps, rows) if "learning_rate" in row
    ]
    if rates:
        rate_axes = axes.twinx()
        rate_axes.plot(*zip(*rates), color="C1", linestyle="--")
        rate_axes.set_ylabel("learning rate", color="C1")
    _save(figure, path)


def _wrap(report):
    """The report's lines wrapped at `REPORT_WIDTH`, continuations aligned
    with the values."""
    lines = []
    for line in report.splitlines():
        label = re.match(r".*?\S\s{2,}", line)
        indent = " " * (len(label[0]) if label else 0)
        lines += textwrap.wrap(line, REPORT_WIDTH, subsequent_indent=indent) or [""]
    return "\n".join(lines)


def save_report(path, samples, report, real_images=None, title=None, columns=None):
    """Writes a one-page PNG: a grid of samples next to real images, and the
    metrics table (the text of `evaluation.format_report`).

    Args:
        path: the PNG file.
        samples: generated images `(N, H, W, C)` in [-1, 1].
        report: the metrics as text, one per line.
        real_images: real images in [-1, 1] to show next to the samples, or None.
        title: text above the page (e.g. the checkpoint).
        columns: images per grid row (default: square grids).

    Example:
    >>> save_report("report.png", samples, "FD ratio  1.2", real_images=real)  # doctest: +SKIP
    """
    grids = [("samples", samples)]
    if real_images is not None and len(real_images):
        grids.append(("real images", real_images))
    figure = Figure(figsize=(3.5 * len(grids) + 6, 4.5), layout="constrained")
    if title:
        figure.suptitle(title, fontsize=9)
    panels = figure.subplots(1, len(grids) + 1, width_ratios=[1] * len(grids) + [1.7])
    for axes, (name, images) in zip(panels, grids):
        pixels = image_grid(images, columns)
        axes.imshow(
            pixels[..., 0] if pixels.shape[-1] == 1 else pixels, cmap="gray", vmin=0, vmax=255
        )
        axes.set_title(f"{name} ({len(images)})")
        axes.axis("off")
    panels[-1].axis("off")
    panels[-1].text(0, 0.5, _wrap(report), family="monospace", fontsize=8, va="center")
    _save(figure, path)
