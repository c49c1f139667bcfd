"""Issue 19's editors benchmark: RawTherapee, darktable and GIMP driven through their own sliders (``--editor``).

- **Overhead**: what filterfit adds to an evaluation over the editor's bare render. The bare
  render is the editor's command line (``rawtherapee-cli``, ``darktable-cli``) run by
  ``subprocess.run`` on a TIFF with a preset; filterfit's evaluation is the same render in a fit of
  one worker (the preset written, the program run, its output read, hashed and scored, the study
  told), as the fit's wall time over its evaluations. The two run in turns, so that the machine's
  noise falls on both. GIMP's bare render is its script sent by this benchmark to a ``gimp-console``
  it keeps running (as filterfit's fit does); its command line, a GIMP started for each render, is
  timed beside it: what keeping GIMP running saves.
- **Hidden presets and RAW** (``editor_recovery.py``): a preset found again from the pair it makes.
- **Cross-tool** ("give my photo that look, in my editor"): each of pilgram's filters applied to one
  bundled photo (the pilgram benchmark's pair photo, 384 px), fitted with each editor's default
  sliders and, beside them, with filterfit's own ``look="auto"``: how close each gets, in dB PSNR.
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

import editor_recovery
from editor_recovery import CASES, RawDevelopment, Recovery, render_preset
from pilgram_looks import PHOTOS, filter_names, filtered, photo

import filterfit
from filterfit.editors import EDITORS, get_editor
from filterfit.images import Image, load_image, save_image, to_float
from filterfit.look import Look
from filterfit.metrics import psnr

OVERHEAD_GOAL = 1.10  # filterfit's evaluation over the bare render
# The preset of the overhead turns, and the ranges its fit searches.
OVERHEAD = {
    "rawtherapee": {
        "exposure_compensation": (0.5, 0, 1), "exposure_contrast": (15, 0, 30), "vibrance_pastels": (20, 0, 40),
    },
    "darktable": {
        "exposure_exposure": (0.5, 0, 1), "velvia_strength": (25, 0, 50), "colorbalancergb_contrast": (0.1, 0, 0.2),
    },
    "gimp": {
        "levels_gamma": (1.3, 1, 2), "brightness_contrast_contrast": (0.1, 0, 0.2),
        "hue_saturation_saturation": (20, 0, 40),
    },
}  # fmt: skip
STARTED_EACH_TIME = 3  # GIMP's command line, started for each render: renders timed per turn


@dataclass(frozen=True)
class EditorsPlan:
    overhead_rounds: int  # turns of (bare renders, a fit) each
    overhead_renders: int  # renders per turn, each side
    filters: dict[str, int | None]  # pilgram filters fitted per editor (None: all)
    budget: int  # the cross-tool fits'
    seeds: int  # hidden presets per editor
    recovery_budget: int | None = None  # None: each case's own
    raw: bool = True

    def capped(self, budget: int) -> EditorsPlan:
        return EditorsPlan(
            self.overhead_rounds, min(self.overhead_renders, budget), self.filters, min(self.budget, budget),
            self.seeds, budget, self.raw,
        )  # fmt: skip


PLANS = {
    # darktable renders in ~0.8 s, mostly its start-up: the default run fits the first 8 filters in it, all 26 in full.
    "default": EditorsPlan(3, 20, {"rawtherapee": None, "darktable": 8, "gimp": 8}, budget=150, seeds=5),
    "full": EditorsPlan(5, 30, {"rawtherapee": None, "darktable": None, "gimp": None}, budget=300, seeds=10),
    "quick": EditorsPlan(1, 3, {"rawtherapee": 1, "darktable": 1, "gimp": 1}, budget=10, seeds=1, raw=False),
}


@dataclass(frozen=True)
class CrossTool:
    editor: str
    filter: str
    photo: str
    fitted: float  # dB PSNR against pilgram's output: the editor's sliders
    look: float  # filterfit's look="auto"
    unchanged: float
    editor_s: float
    look_s: float
    sliders_moved: int  # sliders away from neutral in the answer


@dataclass
class EditorsResults:
    plan: EditorsPlan
    missing: list[str] = field(default_factory=list)
    bare_s: dict[str, list[float]] = field(default_factory=dict)  # seconds per render, each turn
    started_s: list[float] = field(default_factory=list)  # GIMP's command line, started for each render
    gimp_xcf_s: list[float] = field(default_factory=list)  # the kept GIMP's bare render saved as XCF
    fitted_s: dict[str, list[float]] = field(default_factory=dict)  # seconds per evaluation, each turn
    recoveries: list[Recovery] = field(default_factory=list)
    raws: list[RawDevelopment] = field(default_factory=list)
    cross: list[CrossTool] = field(default_factory=list)

    def overhead(self, editor: str) -> float:
        return statistics.median(self.fitted_s[editor]) / statistics.median(self.bare_s[editor])


def run(mode: str, budget: int | None, log: Any, only: tuple[str, ...] | None = None) -> EditorsResults:
    """The section for every editor (``only``: these), each one's parts skipped where it is not installed."""
    plan = PLANS[mode] if budget is None else PLANS[mode].capped(budget)
    results = EditorsResults(plan)
    present = []
    for name, editor in EDITORS.items():
        if only is None or name in only:
            (present if shutil.which(editor.program) else results.missing).append(name)
    for name in present:
        with tempfile.TemporaryDirectory(prefix="filterfit-editors-") as folder:
            _overhead(results, name, Path(folder), log)
    for case in CASES:
        for seed in range(plan.seeds if case.editor in present else 0):
            results.recoveries.append(editor_recovery.recover(case, seed, plan.recovery_budget or case.budget))
            row = results.recoveries[-1]
            log(f"editors {case.editor} hidden preset {seed}: {row.psnr:.1f} dB, worst slider {row.worst:.2f} %")
    for name in [name for name in present if "raw" in get_editor(name).reads] if plan.raw else ():
        results.raws.append(editor_recovery.develop_raw(name))
        log(f"editors {name} RAW: {results.raws[-1].psnr:.1f} dB")
    _cross_tool_all(results, present, log)
    return results


def _overhead(results: EditorsResults, name: str, folder: Path, log: Any) -> None:
    """Bare renders and a one-worker fit of the same preset's sliders, in turns."""
    editor = get_editor(name)
    source = save_image(to_float(photo(PHOTOS[0])), folder / "photo.tif")
    values = {slider: value for slider, (value, _, _) in OVERHEAD[name].items()}
    preset = folder / f"look{editor.suffix}"
    preset.write_text(editor.filter(list(values)).preset(values), encoding="utf-8")
    target = folder / "target.png"
    render_preset(editor, preset, source, target)
    space = [f"{slider}={low:g}:{high:g}" for slider, (_, low, high) in OVERHEAD[name].items()]
    renders = results.plan.overhead_renders
    bare, fitted = results.bare_s.setdefault(name, []), results.fitted_s.setdefault(name, [])
    kept = KeptGimp(preset, source) if name == "gimp" else None
    if kept is not None:  # the GIMP a one-worker fit keeps running, started before the turns as the bare one is
        filterfit.fit(editor=name, space=space, source=source, target=target, budget=1, workers=1, probes=0)
    for _ in range(results.plan.overhead_rounds):
        started = time.perf_counter()
        for _ in range(renders):
            kept.render(folder / "bare.png") if kept else render_preset(editor, preset, source, folder / "bare.png")
        bare.append((time.perf_counter() - started) / renders)
        if kept is not None:
            started = time.perf_counter()
            for _ in range(renders):
                kept.render(folder / "bare.xcf")
            results.gimp_xcf_s.append((time.perf_counter() - started) / renders)
            started = time.perf_counter()
            for _ in range(min(STARTED_EACH_TIME, renders)):
                render_preset(editor, preset, source, folder / "started.png")
            results.started_s.append((time.perf_counter() - started) / min(STARTED_EACH_TIME, renders))
        fit = filterfit.fit(
            editor=name, space=space, source=source, target=target, strategy="random", budget=renders,
            workers=1, seed=len(bare), probes=0, stop_below=0,
        )  # fmt: skip
        fitted.append(fit.elapsed_s / fit.evaluations)
        log(f"editors {name} overhead: bare {bare[-1]:.3f} s, evaluation {fitted[-1]:.3f} s")
    if kept is not None:
        kept.stop()


class KeptGimp:
    """A ``gimp-console`` this benchmark keeps running and sends a script to, without filterfit: GIMP's bare render.

    Each render sends what a fit's evaluation sends (the look's script, then a call that renders a copy of the
    photo, loaded once), and waits for the interpreter to print a token. The render is saved as PNG (GIMP's
    writer, a plug-in started for each file) or as XCF (GIMP's own format, which filterfit's fit asks for).
    """

    SAVE = {
        ".png": "(file-png-save2 RUN-NONINTERACTIVE image drawable output output FALSE 0 FALSE FALSE FALSE FALSE FALSE"
        " FALSE FALSE)",
        ".xcf": "(gimp-xcf-save 0 image drawable output output)",
    }

    def __init__(self, preset: Path, source: Path) -> None:
        self.script = preset.read_text()
        self.process = subprocess.Popen(
            ["gimp-console", "-i", "-d", "-f", "-n", "-b", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.turn = 0
        self._ask(f'(define photo (car (gimp-file-load RUN-NONINTERACTIVE "{source}" "{source}")))')
        for suffix, save in self.SAVE.items():
            self._ask(
                f"(define (render{suffix[1:]} output) (let* ((image (car (gimp-image-duplicate photo)))"
                " (drawable (car (gimp-image-get-active-drawable image)))) (gimp-image-undo-disable image)"
                f" (filterfit-look drawable) {save} (gimp-image-delete image)))"
            )

    def render(self, output: Path) -> None:
        self._ask(f'{self.script}\n(render{output.suffix[1:]} "{output}")')
        output.unlink()  # raises if GIMP wrote nothing

    def _ask(self, expression: str) -> None:
        self.turn += 1
        token = f"bench-done-{self.turn}".encode()
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(expression.encode() + b'\n(display "' + token + b'")\n')
        self.process.stdin.flush()
        answer = b""
        while token not in answer:
            chunk = self.process.stdout.read1(65536)
            if not chunk:
                raise RuntimeError("GIMP ended")
            answer += chunk
        if b"Error:" in answer:
            raise RuntimeError(answer.decode(errors="replace"))

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def _cross_tool_all(results: EditorsResults, present: list[str], log: Any) -> None:
    """Each filter fitted by the look once and by every editor that takes it."""
    names = filter_names()
    wanted = {editor: names[: results.plan.filters.get(editor)] for editor in present}
    for index, name in enumerate(names):
        editors = [editor for editor in present if name in wanted[editor]]
        if not editors:
            continue
        look = _look(index, name, results.plan.budget)
        for editor in editors:
            results.cross.append(cross_tool(index, name, results.plan.budget, editor, look))
            row = results.cross[-1]
            log(f"editors {name}: {editor} {row.fitted:.1f} dB ({row.editor_s:.1f} s), look {row.look:.1f} dB")


def _pair(index: int, name: str) -> tuple[str, Any, Any]:
    photo_name = PHOTOS[index % len(PHOTOS)]
    return photo_name, to_float(photo(photo_name)), filtered(name, photo(photo_name))


def _look(index: int, name: str, budget: int) -> tuple[float, float]:
    """filterfit's own look="auto" on the filter's pair: its PSNR and seconds."""
    _, source, target = _pair(index, name)
    started = time.perf_counter()
    look = filterfit.fit(look="auto", source=source, target=target, budget=budget, workers=2, seed=index, probes=0)
    return psnr(target, Look.from_dict(look.look).apply(source)), time.perf_counter() - started


def cross_tool(index: int, name: str, budget: int, editor: str, look: tuple[float, float]) -> CrossTool:
    """pilgram's ``name`` on the pilgram benchmark's pair photo, fitted by an editor's default sliders."""
    photo_name, source, target = _pair(index, name)
    with tempfile.TemporaryDirectory(prefix="filterfit-editors-") as folder:
        out = Path(folder) / "out"
        started = time.perf_counter()
        fitted = filterfit.fit(
            editor=editor, source=Image(source), target=Image(target), budget=budget, workers=2, seed=index,
            probes=0, out=out,
        )  # fmt: skip
        editor_s = time.perf_counter() - started
        editor_psnr = psnr(target, load_image(out / "best.png").pixels)
    sliders = get_editor(editor).by_name
    moved = sum(value != sliders[key].neutral for key, value in fitted.best_params.items())
    look_psnr, look_s = look
    return CrossTool(editor, name, photo_name, editor_psnr, look_psnr, psnr(target, source), editor_s, look_s, moved)


# -- the report ------------------------------------------------------------------


def render(results: EditorsResults) -> str:
    heading = "## Photo editors: RawTherapee's, darktable's and GIMP's own sliders (issue 19)"
    parts = [heading]
    if results.missing:
        parts.append(
            f"Not measured for {', '.join(results.missing)}: not installed (`make test` installs the editors)."
        )
    if results.bare_s:
        parts.append(_overhead_text(results))
    if results.recoveries or results.raws:
        parts.append(editor_recovery.render(results.recoveries, results.raws))
    if results.cross:
        parts.append(_cross_text(results))
    return "\n\n".join(parts) + "\n"


def _overhead_text(results: EditorsResults) -> str:
    plan = results.plan
    rows = []
    for name in results.bare_s:
        bare, fitted = results.bare_s[name], results.fitted_s[name]
        turns = " / ".join(f"{b:.3f} vs {f:.3f}" for b, f in zip(bare, fitted))
        rows.append(
            f"| {name}: an evaluation <= {OVERHEAD_GOAL:.2f}x the bare render | {results.overhead(name):.3f}x "
            f"(median {statistics.median(fitted):.3f} s vs {statistics.median(bare):.3f} s; each turn, bare vs "
            f"evaluation: {turns}) | {'yes' if results.overhead(name) <= OVERHEAD_GOAL else '**no**'} |"
        )
    if results.started_s:
        started, kept = statistics.median(results.started_s), statistics.median(results.fitted_s["gimp"])
        xcf = statistics.median(results.gimp_xcf_s)
        rows.append(
            f"| gimp: its start-up paid once per worker, not per evaluation | GIMP started for each render "
            f"{started:.3f} s, an evaluation {kept:.3f} s: {started / kept:.1f}x | "
            f"{'yes' if started > kept else '**no**'} |"
        )
        rows.append(
            f"| gimp: filterfit's own part (against the kept GIMP saving XCF, what the fit asks of it, unread) | "
            f"{kept / xcf:.2f}x ({kept:.3f} s vs {xcf:.3f} s: {1000 * (kept - xcf):.0f} ms an evaluation to read "
            "the XCF, score it and tell the study) | measured |"
        )
    return (
        "### Overhead of an evaluation over the bare render\n\n"
        f"The editor's command line (`rawtherapee-cli -q -o OUT -p look.pp3 -n -b8 -Y -c photo.tif`, "
        f"`darktable-cli photo.tif look.xmp OUT --apply-custom-presets false --core --library :memory:`; for GIMP "
        "its script sent to a `gimp-console -b -` kept running, the photo loaded once, and the fit's own GIMP started "
        "before the turns) on the "
        f"{PHOTOS[0]} photo at 384 px, {plan.overhead_renders} bare renders by `subprocess.run`, then a fit of "
        f"{plan.overhead_renders} evaluations (random, 1 worker, 3 sliders, no probes) on the same files, "
        f"{plan.overhead_rounds} turns; an evaluation is the fit's wall time over its evaluations (Optuna's "
        "bookkeeping included).\n\n| goal | measured | met |\n|---|---|---|\n" + "\n".join(rows)
    )


def _cross_text(results: EditorsResults) -> str:
    rows = results.cross
    table = "\n".join(
        f"| {r.filter} | {r.photo} | {r.editor} | {r.fitted:.1f} | {r.look:.1f} | {r.unchanged:.1f} | "
        f"{r.sliders_moved} | {r.editor_s:.1f} | {r.look_s:.1f} |"
        for r in rows
    )
    summaries = []
    for editor in dict.fromkeys(r.editor for r in rows):
        mine = [r for r in rows if r.editor == editor]
        fitted, look, unchanged = (
            statistics.median(getattr(r, key) for r in mine) for key in ("fitted", "look", "unchanged")
        )
        better = sum(r.fitted > r.unchanged for r in mine)
        summaries.append(
            f"{editor} ({len(get_editor(editor).default)} default sliders, {len(mine)} filters): median "
            f"{fitted:.1f} dB against the look's {look:.1f} dB and {unchanged:.1f} dB unchanged on the same "
            f"filters; better than unchanged on {better} of {len(mine)}"
        )
    return (
        "### Cross-tool: pilgram's filters in the editors' sliders\n\n"
        f"Each filter on its pair photo (as the pilgram section), fitted with an editor's default sliders (budget "
        f"{results.plan.budget}, 2 workers, no probes; PSNR of best.png, the editor's own render) and with "
        f'`look="auto"` at the same budget. ' + "; ".join(summaries) + ".\n\n"
        "| filter | photo | editor | editor dB | look auto dB | unchanged dB | sliders moved | editor s | look s |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + table
    )
