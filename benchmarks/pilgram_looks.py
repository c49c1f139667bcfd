"""Issue 18's benchmark: looks someone else made, every filter of pilgram (CSSgram's Python port).

Each filter is applied by pilgram itself to the bundled photos (scikit-image's astronaut, coffee,
chelsea, rocket, scaled to ``LONG_SIDE`` pixels on their long side and saved as 8 bits). Filter
``i`` is fitted on the photo ``PHOTOS[i % 4]`` (its *pair*), has a second pair on the next photo,
and the two photos left are *held out*, never seen by any fit:

- **paired**: PSNR of the fitted look's render of the pair's photo against the filter's output.
- **transfer**: the fit applied to the held-out photos, against the filter on them (their mean).
- **two pairs**: the same transfer from one fit to both pairs (``pairs=``): what a second pair adds.
- **unpaired**: the look fitted from the filtered *second-pair* photo as a ``reference`` (another
  scene: what it tells, ``look/reference.py``, chosen from with ``auto``), applied to the first
  held-out photo, against the filter on it.

And the wall time of ``filterfit fit PHOTO FILTERED --look auto --out DIR`` as a command (the default
budget, 2 workers) on the 512 x 512 astronaut, for ``TIMED`` filters: the choice, the fit and the outputs.

Beside them, in the same run: the photo unchanged; color-matcher's best method for that filter
(the best of its seven, chosen per filter and per case after seeing the scores, so a generous peer;
it transfers the target's or the reference's colours to the photo); and a 17^3 LUT fitted by least
squares on the same pair (``lut_peer.py``), applied to the held-out photos for transfer.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from looks import CM_METHODS, colour_transfers
from lut_peer import apply, fit_lut

import filterfit
from filterfit.images import quantize, to_float
from filterfit.look import Look
from filterfit.metrics import psnr

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
LONG_SIDE = 384
LOOK = "auto"  # the adjustments chosen from the pairs (an unpaired fit: from what the reference tells)
PAIRED_GOAL = (42.0, 35.0)  # dB: median, every filter
TRANSFER_GOAL = (2.0, -0.5)  # dB over the fitted LUT: median, every filter
UNPAIRED_GOAL = (1.0, 3.0)  # dB: mean over unchanged, mean over color-matcher
SECOND_PAIR_GOAL = 1.0  # dB: median gain in transfer
TIMED = ("clarendon", "hudson", "toaster")  # a global filter, and two with radial gradients
WALL_GOAL = 20.0  # seconds for a 512 x 512 --look auto fit with --out


@dataclass(frozen=True)
class PilgramPlan:
    filters: int | None  # None: all of them
    budget: int
    unpaired_budget: int

    def capped(self, budget: int) -> PilgramPlan:
        return PilgramPlan(self.filters, min(self.budget, budget), min(self.unpaired_budget, budget))


PLANS = {
    "default": PilgramPlan(filters=None, budget=500, unpaired_budget=300),
    "full": PilgramPlan(filters=None, budget=2000, unpaired_budget=500),
    "quick": PilgramPlan(filters=2, budget=60, unpaired_budget=40),
}


@dataclass(frozen=True)
class Scores:
    """PSNR in dB against the filter's own output, for filterfit and each peer."""

    filterfit: float
    unchanged: float
    lut: float
    colour_matcher: float  # nan when color-matcher is not installed
    method: str  # color-matcher's best method here


@dataclass(frozen=True)
class FilterOutcome:
    name: str
    photos: tuple[str, str, tuple[str, ...]]  # pair, second pair, held out
    paired: Scores
    transfer: Scores
    two_pairs: float  # filterfit's transfer from a fit to both pairs
    unpaired: Scores
    wall_s: float  # the one-pair fit
    evaluations: int


@dataclass
class PilgramResults:
    plan: PilgramPlan
    outcomes: list[FilterOutcome] = field(default_factory=list)
    missing: str | None = None  # the package that is not installed, if any
    command_s: dict[str, float] = field(default_factory=dict)  # filter -> wall seconds of the 512 x 512 command
    command_psnr: dict[str, float] = field(default_factory=dict)


def filter_names() -> tuple[str, ...]:
    import pilgram

    return tuple(name for name in pilgram.__all__ if not name.startswith("__"))


@lru_cache(maxsize=len(PHOTOS))
def photo(name: str) -> np.ndarray:
    """A bundled photo scaled to LONG_SIDE on its long side, as 8-bit pixels (read-only)."""
    from skimage import data, transform

    pixels = getattr(data, name)()
    scale = LONG_SIDE / max(pixels.shape[:2])
    resized = transform.rescale(pixels, scale, channel_axis=2, anti_aliasing=True)
    pixels = quantize(resized.astype(np.float32), 8)
    pixels.flags.writeable = False
    return pixels


def filtered(name: str, pixels: np.ndarray) -> np.ndarray:
    """pilgram's filter ``name`` on 8-bit pixels, as floats."""
    import pilgram
    from PIL import Image as PILImage

    return to_float(np.asarray(getattr(pilgram, name)(PILImage.fromarray(pixels)).convert("RGB")))


def _scores(
    fitted: np.ndarray, truth: np.ndarray, source: np.ndarray, lut: np.ndarray, reference: np.ndarray
) -> Scores:
    transfers = colour_transfers(source, reference) or {}
    matched = {method: psnr(truth, out) for method, out in transfers.items()}
    method = max(matched, key=lambda m: matched[m]) if matched else "-"
    return Scores(
        psnr(truth, fitted), psnr(truth, source), psnr(truth, apply(lut, source)), matched.get(method, np.nan), method
    )


def _mean_scores(scores: list[Scores]) -> Scores:
    methods = {s.method for s in scores}
    return Scores(
        statistics.fmean(s.filterfit for s in scores),
        statistics.fmean(s.unchanged for s in scores),
        statistics.fmean(s.lut for s in scores),
        statistics.fmean(s.colour_matcher for s in scores),
        "/".join(sorted(methods)),
    )


def run_filter(index: int, name: str, plan: PilgramPlan) -> FilterOutcome:
    turn = index % len(PHOTOS)
    first, second, *held_out = PHOTOS[turn:] + PHOTOS[:turn]
    pixels = {photo_name: to_float(photo(photo_name)) for photo_name in PHOTOS}
    truths = {photo_name: filtered(name, photo(photo_name)) for photo_name in PHOTOS}
    source, target = pixels[first], truths[first]

    started = time.perf_counter()
    one = filterfit.fit(look=LOOK, source=source, target=target, budget=plan.budget, workers=2, seed=index)
    wall = time.perf_counter() - started
    look = Look.from_dict(one.look)
    both = Look.from_dict(
        filterfit.fit(
            look=LOOK,
            pairs=[(source, target), (pixels[second], truths[second])],
            budget=plan.budget,
            workers=2,
            seed=index,
        ).look
    )
    lut = fit_lut(source, target)
    paired = _scores(look.apply(source), target, source, lut, target)
    transfer = _mean_scores([_scores(look.apply(pixels[p]), truths[p], pixels[p], lut, target) for p in held_out])
    two_pairs = statistics.fmean(psnr(truths[p], both.apply(pixels[p])) for p in held_out)

    reference, away = truths[second], held_out[0]
    unpaired_look = Look.from_dict(
        filterfit.fit(
            look=LOOK, source=pixels[away], reference=reference, budget=plan.unpaired_budget, workers=2, seed=index
        ).look
    )
    unpaired = _scores(unpaired_look.apply(pixels[away]), truths[away], pixels[away], lut, reference)
    return FilterOutcome(
        name, (first, second, tuple(held_out)), paired, transfer, two_pairs, unpaired, wall, one.evaluations
    )


def run(mode: str, budget: int | None, log: Any) -> PilgramResults:
    plan = PLANS[mode] if budget is None else PLANS[mode].capped(budget)
    results = PilgramResults(plan)
    missing = [package for package in ("pilgram", "color_matcher") if not _installed(package)]
    if "pilgram" in missing:
        results.missing = "pilgram"
        return results
    results.missing = missing[0] if missing else None
    names = filter_names()[: plan.filters]
    for index, name in enumerate(names):
        outcome = run_filter(index, name, plan)
        results.outcomes.append(outcome)
        log(
            f"pilgram {name}: paired {outcome.paired.filterfit:.1f} dB (LUT {outcome.paired.lut:.1f}), transfer "
            f"{outcome.transfer.filterfit:.1f} (LUT {outcome.transfer.lut:.1f}), two pairs {outcome.two_pairs:.1f}, "
            f"unpaired {outcome.unpaired.filterfit:.1f} (unchanged {outcome.unpaired.unchanged:.1f}, color-matcher "
            f"{outcome.unpaired.colour_matcher:.1f}), {outcome.evaluations} evaluations, {outcome.wall_s:.1f} s"
        )
    for name in TIMED[: 1 if mode == "quick" else None]:
        results.command_s[name], results.command_psnr[name] = timed_command(name, budget)
        log(f"pilgram {name}: filterfit fit --look auto --out on 512 x 512, {results.command_s[name]:.1f} s")
    return results


def timed_command(name: str, budget: int | None) -> tuple[float, float]:
    """Wall seconds of ``filterfit fit photo.png filtered.png --look auto --out DIR`` and its best.png's PSNR."""
    import subprocess
    import tempfile
    from pathlib import Path

    from measure import cli_command
    from PIL import Image as PILImage
    from skimage import data

    from filterfit.images import load_image

    with tempfile.TemporaryDirectory(prefix="filterfit-pilgram-") as folder:
        photo, target = Path(folder) / "photo.png", Path(folder) / f"photo-{name}.png"
        PILImage.fromarray(data.astronaut()).save(photo)
        PILImage.fromarray(quantize(filtered(name, data.astronaut()), 8)).save(target)
        budget_options = ["--budget", str(budget)] if budget is not None else []
        command = [*cli_command(), "fit", str(photo), str(target), "--look", "auto", "--out", str(Path(folder) / "out")]
        started = time.perf_counter()
        subprocess.run([*command, "--workers", "2", "--seed", "0", *budget_options], check=True, capture_output=True)
        wall = time.perf_counter() - started
        return wall, psnr(load_image(target).pixels, load_image(Path(folder) / "out" / "best.png").pixels)


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None


# -- the report ------------------------------------------------------------------


def render(results: PilgramResults) -> str:
    heading = "## Looks someone else made: pilgram's filters (issue 18)"
    if results.missing == "pilgram":
        return f"{heading}\n\nNot measured: pilgram is not installed (`pip install -e '.[bench]'`).\n"
    sections = [heading, _intro(results), _goals(results), "### Per filter\n\n" + _table_per_filter(results.outcomes)]
    return "\n\n".join(sections) + "\n"


def _intro(results: PilgramResults) -> str:
    plan = results.plan
    count = len(results.outcomes)
    return (
        f"{count} filters of pilgram {_version()} on the bundled photos at {LONG_SIDE} px on the long side. "
        f'filterfit fits `look="{LOOK}"` with the auto strategy, {plan.budget} '
        f"evaluations a paired fit and {plan.unpaired_budget} an unpaired one, 2 workers (an unpaired fit's target is "
        "what the reference tells: its black and white points and a vignette as strong as the evidence). The "
        "filters take the photos in turn (astronaut, coffee, chelsea, rocket): filter i's pair is "
        "photo i mod 4, its second pair the next photo, and the two photos left are held out; the unpaired fit takes "
        "the filtered second-pair photo as its reference for the first held-out photo. PSNR in dB against "
        "pilgram's own output; color-matcher's "
        f"best of {len(CM_METHODS)} methods per filter"
        + (" (not installed: its column is empty)" if results.missing == "color_matcher" else "")
        + "; the LUT is 17^3, least squares on the same pair."
    )


def _version() -> str:
    import pilgram

    return str(pilgram.__version__)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _goals(results: PilgramResults) -> str:
    rows = []
    o = results.outcomes
    paired = [x.paired.filterfit for x in o]
    rows.append(
        _goal(
            f"paired >= {PAIRED_GOAL[0]:g} dB median, >= {PAIRED_GOAL[1]:g} dB on every filter",
            f"median {_median(paired):.1f} dB, worst {min(paired, default=np.nan):.1f} dB "
            f"(LUT median {_median([x.paired.lut for x in o]):.1f} dB)",
            bool(paired) and _median(paired) >= PAIRED_GOAL[0] and min(paired) >= PAIRED_GOAL[1],
        )
    )
    gains = [x.transfer.filterfit - x.transfer.lut for x in o]
    rows.append(
        _goal(
            f"transfer >= the fitted LUT + {TRANSFER_GOAL[0]:g} dB median, no filter below the LUT "
            f"{TRANSFER_GOAL[1]:+g} dB",
            f"median {_median(gains):+.1f} dB, worst {min(gains, default=np.nan):+.1f} dB "
            f"(filterfit median {_median([x.transfer.filterfit for x in o]):.1f}, LUT "
            f"{_median([x.transfer.lut for x in o]):.1f} dB)",
            bool(gains) and _median(gains) >= TRANSFER_GOAL[0] and min(gains) >= TRANSFER_GOAL[1],
        )
    )
    fitted = _mean([x.unpaired.filterfit for x in o])
    unchanged = _mean([x.unpaired.unchanged for x in o])
    matched = _mean([x.unpaired.colour_matcher for x in o])
    rows.append(
        _goal(
            f"unpaired >= unchanged + {UNPAIRED_GOAL[0]:g} dB and >= color-matcher + {UNPAIRED_GOAL[1]:g} dB (means)",
            f"{fitted:.1f} dB vs unchanged {unchanged:.1f} dB ({fitted - unchanged:+.1f}) and color-matcher "
            f"{matched:.1f} dB ({fitted - matched:+.1f})",
            bool(o) and fitted - unchanged >= UNPAIRED_GOAL[0] and fitted - matched >= UNPAIRED_GOAL[1],
        )
    )
    walls = list(results.command_s.values())
    rows.append(
        _goal(
            f"a 512 x 512 `filterfit fit --look auto --out` <= {WALL_GOAL:g} s (2 cores)",
            ", ".join(
                f"{name} {wall:.1f} s ({results.command_psnr[name]:.1f} dB)" for name, wall in results.command_s.items()
            )
            or "not measured",
            bool(walls) and max(walls) <= WALL_GOAL,
        )
    )
    second = [x.two_pairs - x.transfer.filterfit for x in o]
    rows.append(
        _goal(
            f"a second pair improves transfer by >= {SECOND_PAIR_GOAL:g} dB median",
            f"median {_median(second):+.1f} dB (worst {min(second, default=np.nan):+.1f} dB)",
            bool(second) and _median(second) >= SECOND_PAIR_GOAL,
        )
    )
    return "\n".join(["| goal | measured | met |", "|---|---|---|", *rows])


def _goal(goal: str, measured: str, met: bool) -> str:
    return f"| {goal} | {measured} | {'yes' if met else 'no'} |"


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _table_per_filter(outcomes: list[FilterOutcome]) -> str:
    header = (
        "| filter | pair / held out | paired: filterfit, LUT, color-matcher, unchanged | transfer: filterfit, LUT, "
        "color-matcher, unchanged | two pairs | unpaired: filterfit, color-matcher, unchanged | evaluations | wall s |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for x in outcomes:
        first, _, held_out = x.photos
        lines.append(
            f"| {x.name} | {first} / {', '.join(held_out)} | {_four(x.paired)} | {_four(x.transfer)} | "
            f"{x.two_pairs:.1f} | {x.unpaired.filterfit:.1f}, {x.unpaired.colour_matcher:.1f}, "
            f"{x.unpaired.unchanged:.1f} | {x.evaluations} | {x.wall_s:.1f} |"
        )
    rows = [x for x in outcomes]
    if rows:
        lines.append(
            f"| **median** | | {_median([x.paired.filterfit for x in rows]):.1f}, "
            f"{_median([x.paired.lut for x in rows]):.1f}, {_median([x.paired.colour_matcher for x in rows]):.1f}, "
            f"{_median([x.paired.unchanged for x in rows]):.1f} | "
            f"{_median([x.transfer.filterfit for x in rows]):.1f}, {_median([x.transfer.lut for x in rows]):.1f}, "
            f"{_median([x.transfer.colour_matcher for x in rows]):.1f}, "
            f"{_median([x.transfer.unchanged for x in rows]):.1f} | {_median([x.two_pairs for x in rows]):.1f} | "
            f"{_median([x.unpaired.filterfit for x in rows]):.1f}, "
            f"{_median([x.unpaired.colour_matcher for x in rows]):.1f}, "
            f"{_median([x.unpaired.unchanged for x in rows]):.1f} | | |"
        )
    return "\n".join(lines)


def _four(s: Scores) -> str:
    return f"{s.filterfit:.1f}, {s.lut:.1f}, {s.colour_matcher:.1f}, {s.unchanged:.1f}"
