"""The convergence plot drawn with matplotlib, as a PNG file (and the report's picture of it).

Drawing is kept cheap: figures go through matplotlib's object API (no pyplot:
nothing global, safe in a thread), and each axis gets at most five plain-text
major ticks and no minor ones (a log axis' minor ticks and its ``10^{-3}``
labels, typeset by mathtext, were most of the drawing time). Importing
matplotlib and loading its fonts take longer than the drawing:
:class:`Painter` does both in a process of its own while a fit searches.

This file runs as that process's script, so it imports nothing of filterfit.
"""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Painter", "draw_convergence"]

Target = str | Path | IO[bytes]
MAX_TICKS = 5
MARGINS_IN = {"left": 0.85, "right": 0.25, "bottom": 0.6, "top": 0.4, "between": 1.0}  # around and between panels


def draw_convergence(data: dict[str, Any], path: Target, *, metric: str = "error") -> Target:
    """Draw :func:`~filterfit.plots.convergence_data` as a PNG: error against evaluations, and time where known."""
    timed = bool(data["numbers"]) and all(s is not None for s in data.get("seconds", [None]))
    figure, panels = _figure(columns=2 if timed else 1, size=(12, 4) if timed else (7, 4))
    _draw_progress(panels[0], data["numbers"], data, data["failed"], metric)
    panels[0].set_xlabel("evaluation")
    if timed:
        failed = [s for s in data.get("failed_seconds", []) if s is not None]
        _draw_progress(panels[1], data["seconds"], data, failed, metric)
        panels[1].set_xlabel("seconds")
    return _save(figure, path)


def _draw_progress(axes: Any, xs: list[float], data: dict[str, Any], failed: list[float], metric: str) -> None:
    positive = all(value > 0 for value in data["errors"]) and data["errors"]
    axes.plot(xs, data["errors"], "o", markersize=2.8, color="#9aa5b1", label="evaluation")  # not scatter: cheaper
    axes.step(xs, data["best"], where="post", color="#1f6feb", label="best so far")
    for x in failed:
        axes.axvline(x, color="#d73a49", alpha=0.25, linewidth=0.8)
    if failed:
        axes.plot([], [], color="#d73a49", alpha=0.5, label="failed evaluation")
    if positive:
        axes.set_yscale("log")
    axes.set_ylabel(metric)
    axes.set_title("Convergence")
    axes.legend(loc="upper right", fontsize=8)


class Painter:
    """Draws a fit's convergence plot at the end, alongside the rest of its output folder.

    Importing matplotlib and loading its fonts take about half a second, the
    drawing a tenth: more than everything else an output folder costs. So a
    painter made in a process without matplotlib starts a process that runs
    this file as a script (matplotlib and the standard library only, not
    filterfit): it is ready long before the search ends, and draws while this
    process writes the images. In a process that has drawn with matplotlib
    before (a Python session's second fit) it draws here instead, in a thread
    (PNG and JPEG encoding, and a program's render, leave the interpreter free
    meanwhile). If the process is gone or fails, the plot is drawn here.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._asked: tuple[dict[str, Any], Path, str] | None = None
        self._drawn: bytes | None = None
        if "matplotlib.backends.backend_agg" in sys.modules:
            return
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        except OSError:
            self._process = None

    def start(self, data: dict[str, Any], path: Path, *, metric: str = "error") -> None:
        """Start :func:`draw_convergence` of ``data`` into ``path``; :meth:`finish` waits for it."""
        self._asked = (data, path, metric)
        if self._process is None:
            self._thread = threading.Thread(target=self._draw_here, name="filterfit-painter", daemon=True)
            self._thread.start()
            return
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps({"data": data, "path": str(path), "metric": metric}).encode())
            self._process.stdin.close()
        except (AssertionError, OSError):
            self.close()

    def finish(self, timeout: float = 60.0) -> bytes:
        """The PNG drawn (by the process, the thread, or now here when neither could)."""
        assert self._asked is not None, "start() first"
        if self._thread is not None:
            self._thread.join()
        elif self._process is not None:
            self._collect(timeout)
        if self._drawn is None:
            self._draw_here()
        assert self._drawn is not None
        return self._drawn

    def _collect(self, timeout: float) -> None:
        assert self._process is not None and self._process.stdout is not None and self._asked is not None
        path = self._asked[1]
        try:  # its line, not its exit: an interpreter with matplotlib loaded takes a while to tear down
            readable, _, _ = select.select([self._process.stdout], [], [], timeout)
            if readable and self._process.stdout.readline().strip() == b"drawn" and path.is_file():
                self._drawn = path.read_bytes()
        except OSError:
            pass
        finally:
            self.close()

    def _draw_here(self) -> None:
        assert self._asked is not None
        data, path, metric = self._asked
        buffer = io.BytesIO()
        draw_convergence(data, buffer, metric=metric)
        path.write_bytes(buffer.getvalue())
        self._drawn = buffer.getvalue()

    def close(self) -> None:
        """Stop the process (if it still runs) and close its pipes."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            for pipe in (self._process.stdin, self._process.stdout):
                if pipe is not None:
                    pipe.close()
        self._process = None


def _serve() -> None:
    """The painter's side: warm up, read what to draw from stdin, draw it, say so."""
    os.nice(19)  # the fit's workers first: the import and warm-up only take cores they leave idle
    errors = [10.0 ** -(k % 7) for k in range(40)]
    rehearsal = {"numbers": list(range(40)), "errors": errors, "best": [min(errors[: k + 1]) for k in range(40)]}
    rehearsal.update(failed=[3], seconds=[k / 10 for k in range(40)], failed_seconds=[0.35])
    draw_convergence(rehearsal, io.BytesIO())  # a plot like the real one: fonts, glyphs and artists load now
    asked = json.loads(sys.stdin.buffer.read() or b"null")
    if asked is None:
        return
    draw_convergence(asked["data"], Path(asked["path"]), metric=asked["metric"])
    sys.stdout.write("drawn\n")
    sys.stdout.flush()
    os._exit(0)  # nothing left to do: skip tearing matplotlib down


def _figure(*, columns: int = 1, size: tuple[float, float] = (7, 4)) -> tuple[Figure, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(figure)
    return figure, list(figure.subplots(1, columns, squeeze=False)[0])


def _tidy(axes: Any) -> None:
    """At most MAX_TICKS plain-text major ticks on each axis, no minor ones."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

    for axis in (axes.xaxis, axes.yaxis):
        axis.set_minor_locator(NullLocator())
        if axis.get_scale() == "log":
            axis.set_major_locator(LogLocator(numticks=MAX_TICKS))
            axis.set_major_formatter(FuncFormatter(_plain_number))
        else:
            axis.set_major_locator(MaxNLocator(MAX_TICKS))


def _plain_number(value: float, _position: int | None = None) -> str:
    return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e") if value < 1e-2 or value >= 1e4 else f"{value:g}"


def _fixed_margins(figure: Figure) -> None:
    """Margins for axis labels and ticks, in inches, whatever the panel count.

    Instead of ``tight_layout``, which measures every text's extent: when the
    report's slices were drawn here, it took 2.7 s of a look's 3.2 s output folder.
    """
    width, height = figure.get_size_inches()
    spec = figure.axes[0].get_subplotspec()
    columns = spec.get_gridspec().ncols if spec is not None else 1
    panel = (width - MARGINS_IN["left"] - MARGINS_IN["right"] - MARGINS_IN["between"] * (columns - 1)) / columns
    figure.subplots_adjust(
        left=MARGINS_IN["left"] / width,
        right=1 - MARGINS_IN["right"] / width,
        bottom=MARGINS_IN["bottom"] / height,
        top=1 - MARGINS_IN["top"] / height,
        wspace=MARGINS_IN["between"] / panel,
    )


def _save(figure: Figure, target: Target) -> Target:
    """Write a figure as PNG to a path or a binary file."""
    for axes in figure.axes:
        _tidy(axes)
    _fixed_margins(figure)
    target = Path(target) if isinstance(target, str) else target
    figure.savefig(target, format="png")
    return target


if __name__ == "__main__":
    _serve()
