"""Plots: one function computes plain data (tested), another draws it (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import TrialRecord

__all__ = ["convergence_data", "draw_convergence"]


def convergence_data(history: Sequence[TrialRecord], direction: str = "minimize") -> dict[str, Any]:
    """Error of each evaluation and the best so far, in evaluation order.

    Returns a dict with ``numbers`` and ``errors`` of the complete
    evaluations, ``best`` (the best error after each of them) and ``failed``
    (numbers of failed evaluations).
    """
    better = min if direction == "minimize" else max
    numbers: list[int] = []
    errors: list[float] = []
    best: list[float] = []
    failed: list[int] = []
    for record in sorted(history, key=lambda r: r.number):
        if record.error is None:
            failed.append(record.number)
            continue
        numbers.append(record.number)
        errors.append(record.error)
        best.append(record.error if not best else better(best[-1], record.error))
    return {"numbers": numbers, "errors": errors, "best": best, "failed": failed}


def draw_convergence(data: dict[str, Any], path: str | Path, *, metric: str = "error") -> Path:
    """Draw :func:`convergence_data` to a PNG: every evaluation and the best so far."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    positive = all(value > 0 for value in data["errors"]) and data["errors"]
    axes.scatter(data["numbers"], data["errors"], s=8, color="#9aa5b1", label="evaluation")
    axes.step(data["numbers"], data["best"], where="post", color="#1f6feb", label="best so far")
    for number in data["failed"]:
        axes.axvline(number, color="#d73a49", alpha=0.25, linewidth=0.8)
    if data["failed"]:
        axes.plot([], [], color="#d73a49", alpha=0.5, label="failed evaluation")
    if positive:
        axes.set_yscale("log")
    axes.set_xlabel("evaluation")
    axes.set_ylabel(metric)
    axes.set_title("Convergence")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path
