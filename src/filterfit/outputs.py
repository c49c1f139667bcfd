"""The output folder: result.json, best.png, diff.png, convergence.png, report.html."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import EvaluationError, FilterFitError
from .images import save_image

if TYPE_CHECKING:
    from .plots.png import Painter
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


def write_outputs(result: FitResult, problem: Problem, out: Path, *, painter: Painter | None = None) -> list[Path]:
    """Write everything a finished fit leaves in its folder; returns the paths written.

    result.json first (nothing else is needed to resume or report). The best
    parameters are rendered again in a thread meanwhile (a program's render
    waits on its process), and ``painter`` (started when the fit began) draws
    the convergence plot while the images are encoded; the report's pictures
    come from memory, not from the files.
    """
    from .plots import convergence_data
    from .plots.png import Painter
    from .report import write_report

    painter = painter or Painter()
    with ThreadPoolExecutor(1, thread_name_prefix="filterfit-best") as pool:
        rendering = pool.submit(_render, problem, result.best_params)
        written = [result.save(out / "result.json")]
        painter.start(convergence_data(result.history, problem.metric.direction), out / "convergence.png",
                      metric=result.metric)  # fmt: skip
        pictures = _write_pictures(rendering.result(), problem, out, written)
    written.append(out / "convergence.png")
    written.append(write_report(result, out, convergence=painter.finish(), pictures=pictures))
    written.extend(_write_settings(problem.filter, result.best_params, out))
    return written


def _write_settings(filter: Any, params: dict[str, Any], out: Path) -> list[Path]:
    """A command's settings files with the best values (``profile.pp3``): what to open in the program.

    An editor's other files (darktable's ``look.dtstyle`` beside ``look.xmp``) come too.
    """
    written = []
    for settings in (*getattr(filter, "files", ()), *getattr(filter, "exports", ())):
        path = out / f"{settings.name}{settings.suffix}"
        path.write_text(settings.render(params), encoding="utf-8")
        written.append(path)
    return written


def _render(problem: Problem, params: dict[str, Any]) -> list[np.ndarray]:
    try:
        return problem.render(params)
    except EvaluationError:
        return []  # the best parameters failed on re-render (a flaky program): keep the json


def _write_pictures(
    renders: list[np.ndarray], problem: Problem, out: Path, written: list[Path]
) -> list[dict[str, str]]:
    """best.png and diff.png of each pair (PNG's fastest level: lossless all the same); the report's pictures."""
    from .report import picture_uri

    pictures = []
    for number, ((source, target), render) in enumerate(zip(problem.pairs, renders)):
        suffix = "" if len(problem.pairs) == 1 else f"-{number + 1}"
        difference = difference_image(render, target.pixels)
        written.append(save_image(render, out / f"best{suffix}.png", bit_depth=target.bit_depth, level=1))
        written.append(save_image(difference, out / f"diff{suffix}.png", level=1))
        shown = {"source": source.pixels, "target": target.pixels, "fitted result": render}
        pictures.append({label: picture_uri(pixels) for label, pixels in shown.items()})
        pictures[-1]["difference x20"] = picture_uri(difference, lossless=True)
    return pictures
