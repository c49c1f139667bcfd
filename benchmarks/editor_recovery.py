"""Issue 19's recovery cases: a hidden editor preset found again from the pair it makes.

- **Hidden preset**: for each seed, values drawn at random (uniformly in the middle 60 % of each
  range) for an editor's sliders render a bundled photo into the target; the editor's sliders are
  fitted to that pair from the PNGs, and the preset ``--out`` writes (``look.pp3``, ``look.xmp``)
  is rendered again by the editor's own command line, outside filterfit, against the target.
  Reported: that PSNR, each slider's distance from the hidden value in % of its range (the worst,
  and the worst of the sliders the fit did not flag as trading off with another), and the
  evaluations the fit took until its best was within 45 dB of the target.
- **RAW**: a DNG made from a bundled photo's Bayer mosaic (pidng), developed by the editor with a
  hidden exposure, saved as a JPEG (quality 95) that stands in for the camera's; the editor's sliders are fitted
  from the DNG to that JPEG, and the written preset develops the DNG again.
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from camera_raw import write_dng
from PIL import Image as PILImage
from pilgram_looks import PHOTOS, photo

import filterfit
from filterfit.editors import Editor, get_editor
from filterfit.images import load_image, save_image, to_float
from filterfit.metrics import psnr

GOAL_DB = 45.0  # the written preset's render against the target
GOAL_SLIDER = 1.0  # % of the range, for the sliders the fit identifies
RAW_GOAL_DB = 40.0
CAMERA_QUALITY = 95  # a camera's "fine" JPEG, its colour at full resolution (4:4:4)


@dataclass(frozen=True)
class Case:
    """An editor's hidden-preset case: the sliders hidden and searched, and the evaluations it may take."""

    editor: str
    ranges: dict[str, tuple[float, float]]
    budget: int


CASES = (
    Case(
        "rawtherapee",
        {
            "exposure_compensation": (-1, 1),
            "exposure_contrast": (-50, 50),
            "exposure_saturation": (-50, 50),
            "exposure_brightness": (-50, 50),
            "vibrance_pastels": (-50, 50),
            "vibrance_saturated": (-50, 50),
            "tone_curve_lights": (-50, 50),
            "tone_curve_darks": (-50, 50),
        },
        150,
    ),  # fmt: skip
    Case(
        "darktable",
        {
            "exposure_exposure": (-1, 1),
            "exposure_black": (-0.05, 0.05),
            "velvia_strength": (0, 60),
            "colorbalancergb_contrast": (-0.3, 0.3),
            "colorbalancergb_saturation": (-0.3, 0.3),
        },
        200,
    ),  # fmt: skip
    Case(
        "gimp",
        {
            "levels_gamma": (0.5, 2),
            "brightness_contrast_contrast": (-0.3, 0.3),
            "color_balance_midtones_cyan_red": (-30, 30),
            "color_balance_midtones_yellow_blue": (-30, 30),
            "hue_saturation_saturation": (-30, 30),
        },
        150,
    ),  # fmt: skip
)
# The RAW cases: the slider hidden and its range.
RAW_CASES = {"rawtherapee": ("exposure_compensation", 0.7, (-2, 2)), "darktable": ("exposure_exposure", 1.2, (0, 2))}


@dataclass(frozen=True)
class Recovery:
    editor: str
    seed: int
    photo: str
    psnr: float  # the written preset rendered by the editor's command line, against the target
    worst: float  # % of the range, over every slider
    worst_identified: float | None  # over the sliders without a trade-off flag (None: every slider has one)
    traded: tuple[str, ...]  # the sliders flagged as trading off, each with its % off
    to_goal: int | None  # evaluations until the best was within GOAL_DB (None: never)
    evaluations: int
    seconds: float


@dataclass(frozen=True)
class RawDevelopment:
    editor: str
    psnr: float  # the written preset developing the DNG again, against the camera JPEG
    ceiling: float  # the hidden preset's own development against its JPEG: what the JPEG's compression leaves
    against_hidden: float  # the written preset's development against the hidden preset's (both PNG)
    truth: float
    found: float
    evaluations: int
    seconds: float


def hidden_values(case: Case, editor: Editor, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    values: dict[str, float] = {}
    for name, (low, high) in case.ranges.items():
        value = low + (high - low) * rng.uniform(0.2, 0.8)
        values[name] = round(value) if editor.by_name[name].integer else float(value)
    return values


def render_preset(editor: Editor, preset: Path, source: Path, output: Path) -> None:
    """The editor's own command line (as ``filterfit export --command`` prints it) on a written preset, to PNG."""
    argv = editor.filter([]).command_filter("png", 8).argv({}, str(source), str(output), {"look": str(preset)})
    output.unlink(missing_ok=True)  # darktable writes NAME_01.png beside a NAME.png that is there
    subprocess.run(argv, check=True, capture_output=True, start_new_session=True)  # as filterfit runs it
    if not output.exists():  # GIMP's batch mode exits 0 when its script fails
        raise RuntimeError(f"{editor.title} wrote no {output.name}: {shlex.join(argv)}")


def recover(case: Case, seed: int, budget: int) -> Recovery:
    editor = get_editor(case.editor)
    photo_name = PHOTOS[seed % len(PHOTOS)]
    truth = hidden_values(case, editor, seed)
    with tempfile.TemporaryDirectory(prefix="filterfit-recovery-") as name:
        folder = Path(name)
        source = save_image(to_float(photo(photo_name)), folder / "photo.tif")
        image = load_image(source)
        target = editor.filter(list(truth)).prepare([image], image, single_thread=False).render(image, truth)
        save_image(target, folder / "target.png")
        started = time.perf_counter()
        result = filterfit.fit(
            editor=case.editor, space=[f"{n}={low:g}:{high:g}" for n, (low, high) in case.ranges.items()],
            source=source, target=folder / "target.png", budget=budget, workers=2, seed=seed, out=folder / "out",
        )  # fmt: skip
        seconds = time.perf_counter() - started
        render_preset(editor, folder / "out" / f"look{editor.suffix}", source, folder / "again.png")
        again = psnr(load_image(folder / "target.png").pixels, load_image(folder / "again.png").pixels)
    errors = {n: abs(result.best_params[n] - truth[n]) / (high - low) * 100 for n, (low, high) in case.ranges.items()}
    traded = [n for n in errors if any("trades off" in f for f in result.flags.get(n, []))]
    identified = [e for n, e in errors.items() if n not in traded]
    return Recovery(
        case.editor, seed, photo_name, again, max(errors.values()), max(identified) if identified else None,
        tuple(f"{n} {errors[n]:.1f} %" for n in traded), _evaluations_to(result, GOAL_DB), result.evaluations,
        seconds,
    )  # fmt: skip


def _evaluations_to(result: filterfit.FitResult, goal_db: float) -> int | None:
    """The evaluations until the best was within ``goal_db`` (the fit's rmse, data range 1)."""
    limit = 10 ** (-goal_db / 20)
    for count, record in enumerate(sorted(result.history, key=lambda r: r.number), start=1):
        if record.error is not None and record.error <= limit:
            return count
    return None


def develop_raw(editor_name: str) -> RawDevelopment:
    editor = get_editor(editor_name)
    slider, truth, (low, high) = RAW_CASES[editor_name]
    with tempfile.TemporaryDirectory(prefix="filterfit-raw-") as name:
        folder = Path(name)
        raw = write_dng(folder / "photo.dng", np.asarray(photo(PHOTOS[0]))[:320, :320])
        hidden = folder / f"hidden{editor.suffix}"
        hidden.write_text(editor.filter([slider]).preset({slider: truth}))
        render_preset(editor, hidden, raw, folder / "developed.png")
        camera = folder / "camera.jpg"  # the camera's JPEG: the editor's development, saved as a camera saves it
        PILImage.open(folder / "developed.png").convert("RGB").save(camera, quality=CAMERA_QUALITY, subsampling=0)
        ceiling = psnr(load_image(camera).pixels, load_image(folder / "developed.png").pixels)
        started = time.perf_counter()
        result = filterfit.fit(
            editor=editor_name, space=[f"{slider}={low}:{high}"], source=raw, target=camera, budget=30, workers=2,
            seed=0, out=folder / "out",
        )  # fmt: skip
        seconds = time.perf_counter() - started
        render_preset(editor, folder / "out" / f"look{editor.suffix}", raw, folder / "again.png")
        again = psnr(load_image(camera).pixels, load_image(folder / "again.png").pixels)
        hidden_again = psnr(load_image(folder / "developed.png").pixels, load_image(folder / "again.png").pixels)
    return RawDevelopment(
        editor_name, again, ceiling, hidden_again, truth, result.best_params[slider], result.evaluations, seconds
    )


# -- the report ------------------------------------------------------------------


def render(recoveries: list[Recovery], raws: list[RawDevelopment]) -> str:
    parts = ["### Hidden presets found again"]
    parts.append(
        "For each seed, a preset drawn at random (the middle 60 % of each range) renders the seed's bundled photo "
        "(384 px, `seed % 4` of astronaut, coffee, chelsea, rocket) into the target; the sliders are fitted to the "
        "PNG pair (2 workers, default probes) and the preset `--out` writes is rendered again by the editor's own "
        "command line. Sliders: RawTherapee's exposure compensation, contrast, saturation, lightness, vibrance "
        "(pastels, saturated) and the parametric curve's lights and darks; darktable's exposure, black level, "
        "velvia strength, color balance rgb contrast and saturation; GIMP's levels gamma, brightness-contrast's "
        "contrast, color balance's midtones cyan-red and yellow-blue, and hue-saturation's saturation. "
        "'identified' leaves out the sliders the fit "
        "flagged as trading off with another."
    )
    lines = ["| goal | measured | met |", "|---|---|---|"]
    for editor in dict.fromkeys(r.editor for r in recoveries):
        rows = [r for r in recoveries if r.editor == editor]
        lines.extend(_goal_rows(editor, rows))
    parts.append("\n".join(lines))
    parts.append(_recovery_table(recoveries))
    if raws:
        parts.append("### A camera RAW developed like its JPEG")
        parts.append(_raw_text(raws))
    return "\n\n".join(parts)


def _goal_rows(editor: str, rows: list[Recovery]) -> list[str]:
    budget = next(case.budget for case in CASES if case.editor == editor)
    worst_db = min(r.psnr for r in rows)
    identified = [r.worst_identified for r in rows if r.worst_identified is not None]
    worst_identified = max(identified) if identified else None
    reached = [r.to_goal for r in rows]
    median_to_goal = statistics.median(budget + 1 if n is None else n for n in reached)
    never = sum(n is None for n in reached)
    return [
        f"| {editor}: the written preset >= {GOAL_DB:.0f} dB from the target, {len(rows)} seeds | "
        f"median {statistics.median(r.psnr for r in rows):.1f} dB, worst {worst_db:.1f} | "
        f"{_met(worst_db >= GOAL_DB)} |",
        f"| {editor}: identified sliders within {GOAL_SLIDER:.0f} % of their range | "
        f"worst {_maybe(worst_identified)} % (every slider: worst {max(r.worst for r in rows):.2f} %) | "
        f"{_met(worst_identified is not None and worst_identified <= GOAL_SLIDER)} |",
        f"| {editor}: <= {budget} evaluations to {GOAL_DB:.0f} dB, median | {median_to_goal:g}"
        f"{f' ({never} seeds never)' if never else ''} | {_met(median_to_goal <= budget)} |",
    ]


def _recovery_table(rows: list[Recovery]) -> str:
    body = "\n".join(
        f"| {r.editor} | {r.seed} | {r.photo} | {r.psnr:.1f} | {r.worst:.2f} | {_maybe(r.worst_identified)} | "
        f"{', '.join(r.traded) or '-'} | {r.to_goal if r.to_goal is not None else 'never'} | {r.evaluations} | "
        f"{r.seconds:.0f} |"
        for r in rows
    )
    return (
        "| editor | seed | photo | preset dB | worst slider % | worst identified % | flagged as trading off (% off) | "
        "evaluations to 45 dB | evaluations | s |\n|---|---|---|---|---|---|---|---|---|---|\n" + body
    )


def _raw_text(raws: list[RawDevelopment]) -> str:
    rows = "\n".join(
        f"| {r.editor} | {r.psnr:.1f} | {r.ceiling:.1f} | {r.against_hidden:.1f} | {r.truth:g} | {r.found:.4f} | "
        f"{r.evaluations} | {r.seconds:.0f} | {_met(r.psnr >= RAW_GOAL_DB)} |"
        for r in raws
    )
    return (
        "A 320 x 320 DNG (pidng, 12-bit RGGB mosaic of the astronaut's linear light) developed by the editor "
        "with a hidden exposure (RawTherapee's compensation 0.7 EV, darktable's exposure 1.2 EV), saved as a "
        f"JPEG (quality {CAMERA_QUALITY}, 4:4:4), the camera's stand-in; that one slider fitted from the DNG to "
        "the JPEG (budget 30), and the written preset developing the DNG again, against the JPEG (goal >= "
        f"{RAW_GOAL_DB:.0f} dB). 'ceiling' is the hidden preset's own development against its JPEG: what the "
        "JPEG's compression leaves; 'vs hidden' the written preset's development against the hidden one's "
        "(both PNG).\n\n"
        "| editor | preset dB | ceiling dB | vs hidden dB | hidden | found | evaluations | s | met |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + rows
    )


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _maybe(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
