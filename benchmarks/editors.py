"""Issue 19's editors benchmark: RawTherapee driven through its own sliders (``--editor rawtherapee``).

- **Overhead**: what filterfit adds to an evaluation over the editor's bare render. The bare
  render is ``rawtherapee-cli`` run by ``subprocess.run`` on a TIFF with a profile; filterfit's
  evaluation is the same render in a fit of one worker (the profile written, the program run, its
  output read, hashed and scored, the study told), as the fit's wall time over its evaluations.
  The two run in turns, so that the machine's noise falls on both.
- **Cross-tool** ("give my photo that look, in my editor"): each of pilgram's filters applied to one
  bundled photo (the pilgram benchmark's pair photo, 384 px), fitted with RawTherapee's default
  sliders and, beside it, with filterfit's own ``look="auto"``: how close each gets, in dB PSNR.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilgram_looks import PHOTOS, filter_names, filtered, photo

import filterfit
from filterfit.editors import RAWTHERAPEE
from filterfit.images import Image, load_image, save_image, to_float
from filterfit.look import Look
from filterfit.metrics import psnr

OVERHEAD_GOAL = 1.10  # filterfit's evaluation over the bare render
PROFILE = "[Exposure]\nCompensation=0.5\nContrast=15\n\n[Vibrance]\nEnabled=true\nPastels=20\n"


@dataclass(frozen=True)
class EditorsPlan:
    overhead_rounds: int  # turns of (bare renders, a fit) each
    overhead_renders: int  # renders per turn, each side
    filters: int | None  # pilgram filters fitted (None: all)
    budget: int

    def capped(self, budget: int) -> EditorsPlan:
        return EditorsPlan(
            self.overhead_rounds, min(self.overhead_renders, budget), self.filters, min(self.budget, budget)
        )


PLANS = {
    "default": EditorsPlan(overhead_rounds=3, overhead_renders=20, filters=None, budget=150),
    "full": EditorsPlan(overhead_rounds=5, overhead_renders=30, filters=None, budget=300),
    "quick": EditorsPlan(overhead_rounds=1, overhead_renders=3, filters=1, budget=10),
}


@dataclass(frozen=True)
class CrossTool:
    filter: str
    photo: str
    editor: float  # dB PSNR against pilgram's output: RawTherapee's sliders
    look: float  # filterfit's look="auto"
    unchanged: float
    editor_s: float
    look_s: float
    sliders_moved: int  # sliders away from neutral in the answer


@dataclass
class EditorsResults:
    plan: EditorsPlan
    missing: str | None = None
    bare_s: list[float] = field(default_factory=list)  # seconds per render, each turn
    fitted_s: list[float] = field(default_factory=list)  # seconds per evaluation, each turn
    cross: list[CrossTool] = field(default_factory=list)

    @property
    def overhead(self) -> float:
        return statistics.median(self.fitted_s) / statistics.median(self.bare_s)


def run(mode: str, budget: int | None, log: Any) -> EditorsResults:
    plan = PLANS[mode] if budget is None else PLANS[mode].capped(budget)
    results = EditorsResults(plan)
    if shutil.which(RAWTHERAPEE.program) is None:
        results.missing = RAWTHERAPEE.program
        return results
    with tempfile.TemporaryDirectory(prefix="filterfit-editors-") as folder:
        _overhead(results, Path(folder), log)
    for index, name in enumerate(filter_names()[: plan.filters]):
        results.cross.append(cross_tool(index, name, plan.budget))
        row = results.cross[-1]
        log(f"editors {name}: RawTherapee {row.editor:.1f} dB ({row.editor_s:.1f} s), look {row.look:.1f} dB")
    return results


def _overhead(results: EditorsResults, folder: Path, log: Any) -> None:
    """Bare renders and a one-worker fit of the same profile's sliders, in turns."""
    source = folder / "photo.tif"
    save_image(to_float(photo(PHOTOS[0])), source)
    profile = folder / "look.pp3"
    profile.write_text(PROFILE, encoding="utf-8")
    target = folder / "target.png"
    _bare(profile, source, target)
    space = ["exposure_compensation=0:1", "exposure_contrast=0:30", "vibrance_pastels=0:40"]
    renders = results.plan.overhead_renders
    for _ in range(results.plan.overhead_rounds):
        started = time.perf_counter()
        for _ in range(renders):
            _bare(profile, source, folder / "bare.png")
        results.bare_s.append((time.perf_counter() - started) / renders)
        fit = filterfit.fit(
            editor="rawtherapee", space=space, source=source, target=target, strategy="random", budget=renders,
            workers=1, seed=len(results.bare_s), probes=0, stop_below=0,
        )  # fmt: skip
        results.fitted_s.append(fit.elapsed_s / fit.evaluations)
        log(f"editors overhead: bare {results.bare_s[-1]:.3f} s, evaluation {results.fitted_s[-1]:.3f} s")


def _bare(profile: Path, source: Path, output: Path) -> None:
    argv = ["rawtherapee-cli", "-q", "-o", str(output), "-p", str(profile), "-n", "-b8", "-Y", "-c", str(source)]
    subprocess.run(argv, check=True, capture_output=True)


def cross_tool(index: int, name: str, budget: int) -> CrossTool:
    """pilgram's ``name`` on the pilgram benchmark's pair photo, fitted by RawTherapee's sliders and by the look."""
    photo_name = PHOTOS[index % len(PHOTOS)]
    source, target = to_float(photo(photo_name)), filtered(name, photo(photo_name))
    with tempfile.TemporaryDirectory(prefix="filterfit-editors-") as folder:
        out = Path(folder) / "out"
        started = time.perf_counter()
        fitted = filterfit.fit(
            editor="rawtherapee", source=Image(source), target=Image(target), budget=budget, workers=2, seed=index,
            probes=0, out=out,
        )  # fmt: skip
        editor_s = time.perf_counter() - started
        editor_psnr = psnr(target, load_image(out / "best.png").pixels)
    started = time.perf_counter()
    look = filterfit.fit(look="auto", source=source, target=target, budget=budget, workers=2, seed=index, probes=0)
    look_s = time.perf_counter() - started
    look_psnr = psnr(target, Look.from_dict(look.look).apply(source))
    moved = sum(value != RAWTHERAPEE.by_name[key].neutral for key, value in fitted.best_params.items())
    return CrossTool(name, photo_name, editor_psnr, look_psnr, psnr(target, source), editor_s, look_s, moved)


# -- the report ------------------------------------------------------------------


def render(results: EditorsResults) -> str:
    heading = "## Photo editors: RawTherapee's own sliders (issue 19)"
    if results.missing:
        return f"{heading}\n\nNot measured: {results.missing} is not installed (`make test` installs it).\n"
    return "\n\n".join([heading, _overhead_text(results), _cross_text(results)]) + "\n"


def _overhead_text(results: EditorsResults) -> str:
    plan = results.plan
    turns = " / ".join(f"{b:.3f} vs {f:.3f}" for b, f in zip(results.bare_s, results.fitted_s))
    met = "yes" if results.overhead <= OVERHEAD_GOAL else "**no**"
    return (
        "### Overhead of an evaluation over the bare render\n\n"
        f"`rawtherapee-cli -q -o OUT -p look.pp3 -n -b8 -Y -c photo.tif` on the {PHOTOS[0]} photo at 384 px, "
        f"{plan.overhead_renders} bare renders by `subprocess.run`, then a fit of {plan.overhead_renders} "
        f"evaluations (random, 1 worker, 3 sliders, no probes) on the same files, {plan.overhead_rounds} turns; "
        "an evaluation is the fit's wall time over its evaluations (Optuna's bookkeeping included).\n\n"
        "| goal | measured | met |\n|---|---|---|\n"
        f"| an evaluation <= {OVERHEAD_GOAL:.2f}x the bare render | {results.overhead:.3f}x "
        f"(median {statistics.median(results.fitted_s):.3f} s vs {statistics.median(results.bare_s):.3f} s; "
        f"each turn, bare vs evaluation: {turns}) | {met} |"
    )


def _cross_text(results: EditorsResults) -> str:
    rows = results.cross
    if not rows:
        return ""
    table = "\n".join(
        f"| {r.filter} | {r.photo} | {r.editor:.1f} | {r.look:.1f} | {r.unchanged:.1f} | {r.sliders_moved} | "
        f"{r.editor_s:.1f} | {r.look_s:.1f} |"
        for r in rows
    )
    medians = [statistics.median(getattr(r, key) for r in rows) for key in ("editor", "look", "unchanged")]
    better = sum(r.editor > r.unchanged for r in rows)
    return (
        "### Cross-tool: pilgram's filters in RawTherapee's sliders\n\n"
        f"Each filter on its pair photo (as the pilgram section), fitted with RawTherapee's {len(RAWTHERAPEE.default)} "
        f"default sliders (budget {results.plan.budget}, 2 workers, no probes; PSNR of best.png, RawTherapee's own "
        f'render) and with `look="auto"` at the same budget. Medians: RawTherapee {medians[0]:.1f} dB, the look '
        f"{medians[1]:.1f} dB, unchanged {medians[2]:.1f} dB; RawTherapee improves on unchanged for {better} of "
        f"{len(rows)} filters.\n\n"
        "| filter | photo | RawTherapee dB | look auto dB | unchanged dB | sliders moved | RawTherapee s | look s |\n"
        "|---|---|---|---|---|---|---|---|\n" + table
    )
