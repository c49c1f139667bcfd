"""The output folder: result.json, best.png, diff.png, convergence.png, report.html."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import EvaluationError, FilterFitError
from .images import save_image

if TYPE_CHECKING:
    from .problem import Problem
    from .result import FitResult

__all__ = ["DIFF_GAIN", "difference_image", "prepare_folder", "write_outputs"]

DIFF_GAIN = 20  # like OpenImageIO's idiff: small differences become visible


def prepare_folder(out: str | Path) -> Path:
    """Create the output folder, or fail with one line before any evaluation runs."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FilterFitError(f"--out {out} is a file, not a folder: choose another path")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".filterfit-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise FilterFitError(
            f"cannot write to the output folder {out}: {error.strerror}; choose another --out"
        ) from None
    return out


def difference_image(best: np.ndarray, target: np.ndarray, *, gain: float = DIFF_GAIN) -> np.ndarray:
    """|best - target| amplified, as float pixels in [0, 1]."""
    return np.clip(np.abs(best - target) * gain, 0, 1).astype(np.float32)


def write_outputs(result: FitResult, problem: Problem, out: Path) -> list[Path]:
    """Write everything a finished fit leaves in its folder; returns the paths written."""
    written = [result.save(out / "result.json")]
    try:
        renders = problem.render(result.best_params)
    except EvaluationError:
        renders = []  # the best parameters failed on re-render (a flaky program): keep the json
    for number, ((_, target), render) in enumerate(zip(problem.pairs, renders)):
        suffix = "" if len(problem.pairs) == 1 else f"-{number + 1}"
        written.append(save_image(render, out / f"best{suffix}.png", bit_depth=target.bit_depth))
        written.append(save_image(difference_image(render, target.pixels), out / f"diff{suffix}.png"))
    from .report import convergence_plot, write_report  # they draw with matplotlib: imported when a folder is written

    convergence = convergence_plot(result)
    (out / "convergence.png").write_bytes(convergence)
    written.append(out / "convergence.png")
    written.append(write_report(result, out, convergence=convergence))  # the same plot, not drawn twice
    return written
