"""Plots: one function computes plain data (tested), another draws it (matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .result import TrialRecord
    from .space import Param

__all__ = [
    "convergence_data",
    "draw_convergence",
    "draw_pairwise",
    "draw_slices",
    "pairwise_data",
    "slice_data",
]

NEAR = 0.05  # "around the optimum": every other parameter within this share of its range of its best value
Target = str | Path | IO[bytes]
MARGINS_IN = {"left": 0.85, "right": 0.25, "bottom": 0.6, "top": 0.4, "between": 1.0}  # around and between panels


def convergence_data(history: Sequence[TrialRecord], direction: str = "minimize") -> dict[str, Any]:
    """Error of each evaluation and the best so far, in evaluation order.

    Returns a dict with ``numbers`` and ``errors`` of the complete
    evaluations, ``best`` (the best error after each of them), ``failed``
    (numbers of failed evaluations), and the seconds from the start at which
    each complete (``seconds``) and failed (``failed_seconds``) evaluation
    ended, where the history records them (None otherwise).
    """
    better = min if direction == "minimize" else max
    data: dict[str, list[Any]] = {key: [] for key in ("numbers", "errors", "best", "failed")}
    data.update(seconds=[], failed_seconds=[])
    for record in sorted(history, key=lambda r: r.number):
        if record.error is None:
            data["failed"].append(record.number)
            data["failed_seconds"].append(record.finished_s)
            continue
        data["numbers"].append(record.number)
        data["errors"].append(record.error)
        data["seconds"].append(record.finished_s)
        best = data["best"]
        best.append(record.error if not best else better(best[-1], record.error))
    return data


def draw_convergence(data: dict[str, Any], path: Target, *, metric: str = "error") -> Target:
    """Draw :func:`convergence_data` to a PNG: error against evaluations, and against time where known."""
    timed = bool(data["numbers"]) and all(s is not None for s in data.get("seconds", [None]))
    figure, panels = _figure(ncols=2 if timed else 1, size=(12, 4) if timed else (7, 4))
    _draw_progress(panels[0], data["numbers"], data, data["failed"], metric)
    panels[0].set_xlabel("evaluation")
    if timed:
        failed = [s for s in data.get("failed_seconds", []) if s is not None]
        _draw_progress(panels[1], data["seconds"], data, failed, metric)
        panels[1].set_xlabel("seconds")
    return _save(figure, path)


def _draw_progress(axes: Any, xs: list[float], data: dict[str, Any], failed: list[float], metric: str) -> None:
    positive = all(value > 0 for value in data["errors"]) and data["errors"]
    axes.scatter(xs, data["errors"], s=8, color="#9aa5b1", label="evaluation")
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


def _figure(*, ncols: int = 1, size: tuple[float, float] = (7, 4)) -> tuple[Figure, list[Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, ncols, figsize=size, dpi=100, squeeze=False)
    return figure, list(axes[0])


def _fixed_margins(figure: Figure) -> None:
    """Margins for axis labels and ticks, in inches, whatever the panel count.

    Instead of ``tight_layout``, which measures every text's extent: for a look's
    16 slices it took 2.7 s of the 3.2 s that writing the output folder took.
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
    """Write a figure as PNG to a path or a binary file, and close it."""
    import matplotlib.pyplot as plt

    _fixed_margins(figure)
    target = Path(target) if isinstance(target, str) else target
    figure.savefig(target, format="png")
    plt.close(figure)
    return target


def _near(record: TrialRecord, best: Mapping[str, Any], params: Mapping[str, Param], skip: Sequence[str]) -> bool:
    """True when every numeric parameter but ``skip`` is within NEAR of its range from its best value."""
    for name, param in params.items():
        if name in skip or name not in record.params:
            continue
        if abs(param.to_unit(record.params[name]) - param.to_unit(best[name])) > NEAR:
            return False
    return True


def slice_data(
    history: Sequence[TrialRecord],
    name: str,
    best: Mapping[str, Any],
    params: Mapping[str, Param],
    interval: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The error against one parameter, from the evaluations made.

    Returns ``values`` and ``errors`` of the complete evaluations, ``near``
    (True where every other parameter was within 5 % of its range of its best
    value: the slice through the optimum), ``best`` (the parameter's best
    value), ``interval`` and ``low``/``high`` (the range searched).
    """
    kept = [r for r in history if r.error is not None and name in r.params]
    return {
        "name": name,
        "values": [float(r.params[name]) for r in kept],
        "errors": [float(r.error) for r in kept if r.error is not None],
        "near": [_near(r, best, params, [name]) for r in kept],
        "best": float(best[name]),
        "interval": None if interval is None else [float(v) for v in interval],
        "low": params[name].low,
        "high": params[name].high,
        "log": params[name].log,
    }


def draw_slices(slices: Sequence[dict[str, Any]], path: Target, *, metric: str = "error") -> Target:
    """One panel per :func:`slice_data`: the evaluations, those near the optimum, the best and its interval."""
    figure, panels = _figure(ncols=max(1, len(slices)), size=(max(4.0, 4.0 * len(slices)), 3.6))
    for axes, data in zip(panels, slices):
        far = [(v, e) for v, e, near in zip(data["values"], data["errors"], data["near"]) if not near]
        near = [(v, e) for v, e, n in zip(data["values"], data["errors"], data["near"]) if n]
        if far:
            axes.scatter(*zip(*far), s=6, color="#c9d1d9", label="elsewhere")
        if near:
            axes.scatter(*zip(*near), s=10, color="#1f6feb", label="others near best")
        if data["interval"]:
            axes.axvspan(*data["interval"], color="#2da44e", alpha=0.2, label="interval")
        axes.axvline(data["best"], color="#2da44e", linewidth=1, label="best")
        if data["errors"] and min(data["errors"]) > 0:
            axes.set_yscale("log")
        if data["log"]:
            axes.set_xscale("log")
        axes.set_xlim(data["low"], data["high"])
        axes.set_xlabel(data["name"])
        axes.set_ylabel(metric)
        axes.legend(loc="upper right", fontsize=7)
    return _save(figure, path)


def pairwise_data(history: Sequence[TrialRecord], first: str, second: str, best: Mapping[str, Any]) -> dict[str, Any]:
    """Two parameters' values of each complete evaluation, with its error (for a scatter)."""
    kept = [r for r in history if r.error is not None and first in r.params and second in r.params]
    return {
        "names": [first, second],
        "x": [float(r.params[first]) for r in kept],
        "y": [float(r.params[second]) for r in kept],
        "errors": [float(r.error) for r in kept if r.error is not None],
        "best": [float(best[first]), float(best[second])],
    }


def draw_pairwise(pairs: Sequence[dict[str, Any]], path: Target, *, metric: str = "error") -> Target:
    """One scatter per :func:`pairwise_data`, coloured by error (log scale where all are positive)."""
    from matplotlib.colors import LogNorm

    figure, panels = _figure(ncols=max(1, len(pairs)), size=(max(4.5, 4.5 * len(pairs)), 4))
    for axes, data in zip(panels, pairs):
        positive = bool(data["errors"]) and min(data["errors"]) > 0
        points = axes.scatter(
            data["x"], data["y"], c=data["errors"], s=10, cmap="viridis_r", norm=LogNorm() if positive else None
        )
        axes.plot(*data["best"], marker="*", markersize=14, color="#d73a49", linestyle="none", label="best")
        axes.set_xlabel(data["names"][0])
        axes.set_ylabel(data["names"][1])
        axes.legend(loc="upper right", fontsize=7)
        if data["errors"]:
            figure.colorbar(points, ax=axes, label=metric)
    return _save(figure, path)
