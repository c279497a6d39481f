"""Progress of long commands on stderr: a bar on a terminal, lines elsewhere.

On a terminal the bar is redrawn in place (carriage return) with the rate,
e.g. "images/s". Without one (a pipe, a CI log) a line is printed every
tenth of the way, with no carriage returns. `quiet=True` prints nothing.
"""

import sys
import time

BAR_WIDTH = 24
# Redraws of the terminal bar at most this often, in seconds.
REDRAW_INTERVAL = 0.1


class Progress:
    """Counts work done towards `total` and shows it.

    Args:
        total: the amount of work (e.g. images), or None when unknown (a
            line or a redraw at every update then).
        description: what is being done, the start of every line.
        unit: what is counted, e.g. "images"; the rate is "unit/s".
        quiet: show nothing.
        stream: where to write (default `sys.stderr`).

    Use as a context manager, which ends the bar. `update(n)` counts `n`
    more; `begin(phase)` counts the phase begun before (if any) as done and
    shows `phase` as the one running, for work measured in phases.

    Example:
    >>> with Progress(64, "sample", unit="images") as progress:  # doctest: +SKIP
    ...     for batch in batches:
    ...         progress.update(len(batch))
    """

    def __init__(self, total, description, unit="it", quiet=False, stream=None):
        self.total = total
        self.description = description
        self.unit = unit
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.count = 0
        self.phase = None
        self._terminal = self.stream.isatty()
        self._start = time.monotonic()
        self._last_draw = None
        self._tenths_shown = 0
        self._width = 0

    def update(self, count=1):
        self.count += count
        self._show()

    def begin(self, phase):
        if self.phase is not None:
            self.count += 1
        self.phase = phase
        self._show(always=True)

    def close(self):
        if self.phase is not None:
            self.count += 1
            self.phase = None
        if self._terminal and self._last_draw is not None and not self.quiet:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()

    def text(self):
        """The progress as one line of text."""
        elapsed = f"{time.monotonic() - self._start:.0f} s"
        if self.phase is not None:
            of_total = f" of {self.total}" if self.total else ""
            return f"{self.description}: {self.phase} (phase {self.count + 1}{of_total}), {elapsed}"
        if not self.total:
            return f"{self.description}: {self.count} {self.unit} done, {elapsed}"
        fraction = min(self.count / self.total, 1.0)
        bar = ""
        if self._terminal:
            filled = round(fraction * BAR_WIDTH)
            bar = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "] "
        rate = self.count / max(time.monotonic() - self._start, 1e-9)
        return (
            f"{self.description}: {bar}{self.count}/{self.total} {self.unit} ({fraction:.0%}), "
            f"{rate:.2f} {self.unit}/s, {elapsed}"
        )

    def _show(self, always=False):
        if self.quiet:
            return
        if self._terminal:
            now = time.monotonic()
            done = self.total is not None and self.count >= self.total
            if always or done or self._last_draw is None or now - self._last_draw > REDRAW_INTERVAL:
                self._draw()
            return
        tenths = self.count * 10 // self.total if self.total else None
        if always or tenths is None or tenths > self._tenths_shown:
            self._tenths_shown = tenths or 0
            self.stream.write(self.text() + "\n")
            self.stream.flush()

    def _draw(self):
        line = self.text()
        # Pads over the rest of a longer previous line.
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)
        self._last_draw = time.monotonic()
