"""``--look auto``: choose a look's adjustments from the pairs, the fewest that explain them.

A look of every adjustment has over a hundred parameters: slow to fit, and no one can read or edit
the answer. Most filters use a few: a flat colour screened in, then a contrast and a saturation
(one channel mixer); a radial gradient in overlay; a tone curve. The choice is forward selection
on a thumbnail of the pairs (``THUMBNAIL`` pixels on the long side, every k-th pixel of the photo,
so gradients keep the whole frame's geometry):

1. The channel mixer is the first candidate; then each round tries every candidate not chosen
   yet, on top of the adjustments chosen so far (at their fitted values), fitting the candidate's
   own settings and the mixer's again (see ``_try``): a cheap, slightly pessimistic measure of what
   it adds.
2. The candidate that adds the most PSNR joins, if it adds at least ``MIN_GAIN_DB``; then all the
   chosen settings are fitted together (scipy's bounded least squares).
3. It stops when no candidate adds ``MIN_GAIN_DB``, at ``MAX_ADJUSTMENTS``, or when the thumbnail
   is reproduced to its 8-bit rounding.

The fitted values are the start of the real fit (on the whole photos, through Optuna like any
other), so the choice costs a few seconds and saves the search its far-off start. What was chosen,
in order, and the PSNR each added are kept as the look's ``chosen`` record (result.json, the
table, the report). Candidates are the per-pixel and per-position adjustments a pair can reveal;
blur, sharpen and grain are left to be named (a thumbnail hides them).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from ..fidelity.preview import PreviewImage
from ..images import Image
from .adjustments import ADJUSTMENTS, GRADIENTS
from .look import Look

__all__ = ["CANDIDATES", "Choice", "Step", "choose_look", "describe_choice"]

# Groups a photographer would switch on as one: the three channel curves go together.
CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("channel_mixer",),
    ("curve",),
    ("red_curve", "green_curve", "blue_curve"),
    ("grading",),
    ("vibrance",),
    *((name,) for name in GRADIENTS),
    ("vignette",),
)
THUMBNAIL = 64  # pixels on the long side
MIN_GAIN_DB = 0.1
MAX_ADJUSTMENTS = 6  # groups; a look of more is no longer one a person reads
ROUNDING_DB = 52.0  # an 8-bit target's rounding alone (rmse 0.29 / 255 is 58.9 dB; pilgram rounds at every step)
# Iterations of least squares (each a Jacobian: a render per setting) when a candidate is tried, and when the
# chosen ones are fitted together; scipy counts the Jacobian's renders apart.
CANDIDATE_ITERATIONS = 6
JOINT_ITERATIONS = 30


@dataclass(frozen=True)
class Step:
    """One adjustment (or group) chosen, and the thumbnail's PSNR once it was fitted with those before it."""

    adjustments: tuple[str, ...]
    psnr: float
    gain: float


@dataclass(frozen=True)
class Choice:
    steps: tuple[Step, ...]
    unchanged: float  # the thumbnail's PSNR before any adjustment
    left_out: tuple[str, ...]  # candidates not chosen
    stopped: str  # "no gain": none added MIN_GAIN_DB; "most": MAX_ADJUSTMENTS chosen; "exact": at the rounding
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {
            "steps": [{"adjustments": list(s.adjustments), "psnr": round(s.psnr, 2), "gain": round(s.gain, 2)}
                      for s in self.steps],
            "unchanged": round(self.unchanged, 2),
            "left_out": list(self.left_out),
            "stopped": self.stopped,
            "seconds": round(self.seconds, 2),
        }  # fmt: skip

    def describe(self) -> str:
        return describe_choice(self.to_dict())


def describe_choice(chosen: Mapping[str, Any]) -> str:
    """A Choice's dict (as result.json keeps it) in words.

    ``channel_mixer +21.3 dB, overlay_gradient +4.1 dB on a thumbnail (14.2 dB unchanged); 13 left out``.
    """
    steps = ", ".join(f"{'+'.join(s['adjustments'])} {s['gain']:+.1f} dB" for s in chosen["steps"]) or "nothing"
    why = {
        "no gain": f"each would add < {MIN_GAIN_DB:g} dB",
        "most": f"at most {MAX_ADJUSTMENTS} are chosen",
        "exact": "the thumbnail is reproduced",
    }.get(chosen.get("stopped", ""), "")
    return f"{steps} on a thumbnail ({chosen['unchanged']:.1f} dB unchanged); {len(chosen['left_out'])} left out" + (
        f" ({why})" if why else ""
    )


@dataclass(frozen=True)
class _Thumbnail:
    source: PreviewImage
    target: np.ndarray


def choose_look(pairs: Sequence[tuple[Image, Image]], *, seed: int = 0) -> tuple[Look, Choice]:
    """The look of the fewest adjustments that explain ``pairs``, at its values fitted on thumbnails.

    The look carries the choice as its ``chosen`` record; the Choice itself comes with it.
    """
    started = time.perf_counter()
    thumbnails = [_thumbnail(source, target) for source, target in pairs]
    unchanged = _psnr(thumbnails, Look(["exposure"]), {})  # exposure 0 renders nothing: the photos as they are
    chosen: list[tuple[str, ...]] = []
    params: dict[str, float] = {}
    current, steps = unchanged, []
    remaining = list(CANDIDATES)
    stopped = "no gain"
    while remaining:
        if len(chosen) == MAX_ADJUSTMENTS or current >= ROUNDING_DB:
            stopped = "most" if len(chosen) == MAX_ADJUSTMENTS else "exact"
            break
        group, score, values = _best_candidate(thumbnails, _flat(chosen), params, remaining, seed)
        if score - current < MIN_GAIN_DB:
            break
        chosen.append(group)
        remaining.remove(group)
        look = Look(_flat(chosen), seed=seed)
        params = _fit(thumbnails, look, {**params, **values}, set(_names(_flat(chosen))))
        after = _psnr(thumbnails, look, params)
        steps.append(Step(group, after, after - current))
        current = after
    left_out = tuple(name for group in remaining for name in group)
    choice = Choice(tuple(steps), unchanged, left_out, stopped, time.perf_counter() - started)
    record = choice.to_dict()
    if not chosen:  # nothing explains the pair better than the photo itself: the neutral mixer says so
        return Look(["channel_mixer"], seed=seed, chosen=record), choice
    return Look(_flat(chosen), params, seed=seed, chosen=record), choice


def _flat(groups: Sequence[tuple[str, ...]]) -> list[str]:
    return [name for group in groups for name in group]


def _best_candidate(
    thumbnails: list[_Thumbnail],
    chosen: list[str],
    params: dict[str, float],
    remaining: list[tuple[str, ...]],
    seed: int,
) -> tuple[tuple[str, ...], float, dict[str, float]]:
    """The candidate that adds the most, its PSNR and its settings' values.

    The channel mixer first while it is a candidate: most looks move colour globally, and a
    gradient or vignette measured against a photo whose colours are still wrong would be chosen
    for the colour it makes up for (a vignette's darkening for a lower exposure).
    """
    if ("channel_mixer",) in remaining:
        return ("channel_mixer",), *_try(thumbnails, chosen, params, ("channel_mixer",), seed)
    tried = [(group, *_try(thumbnails, chosen, params, group, seed)) for group in remaining]
    return max(tried, key=lambda item: item[1])


def _thumbnail(source: Image, target: Image) -> _Thumbnail:
    stride = max(1, math.ceil(max(source.height, source.width) / THUMBNAIL))
    pixels = _rgb(source.pixels[::stride, ::stride])
    preview = PreviewImage(pixels, stride=stride, full_height=source.height, full_width=source.width)
    return _Thumbnail(preview, _rgb(target.pixels[::stride, ::stride]))


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """The colour channels as RGB (grey repeated, alpha left out): what a look renders and is compared on."""
    colour = pixels[:, :, : 3 if pixels.shape[2] >= 3 else 1]
    return np.ascontiguousarray(np.repeat(colour, 3 // colour.shape[2], axis=2), dtype=np.float32)


def _names(adjustments: Sequence[str]) -> list[str]:
    return [s.name for name in adjustments for s in ADJUSTMENTS[name].settings]


def _residuals(thumbnails: list[_Thumbnail], look: Look, params: dict[str, float]) -> np.ndarray:
    return np.concatenate([(look.render(t.source, params) - t.target).ravel() for t in thumbnails])


def _psnr(thumbnails: list[_Thumbnail], look: Look, params: dict[str, float]) -> float:
    mse = float(np.mean(np.square(_residuals(thumbnails, look, params), dtype=np.float64)))
    return 10 * math.log10(1 / mse) if mse > 0 else math.inf


def _try(
    thumbnails: list[_Thumbnail], chosen: list[str], params: dict[str, float], group: tuple[str, ...], seed: int
) -> tuple[float, dict[str, float]]:
    """The PSNR with ``group`` added and its own settings fitted, and those settings.

    The channel mixer, once chosen, is fitted again with it: an adjustment before the mixer in the
    pipeline (a gradient) changes what the mixer should do, and against a mixer held at its old
    values it would lose to one after it (a curve) that corrects the output directly.
    """
    look = Look([*chosen, *group], seed=seed)
    free = set(_names([*group, *(name for name in chosen if name == "channel_mixer")]))
    values = _fit(thumbnails, look, {**params, **_trial_start(group)}, free, iterations=CANDIDATE_ITERATIONS)
    return _psnr(thumbnails, look, values), {k: v for k, v in values.items() if k in free}


def _trial_start(group: tuple[str, ...]) -> dict[str, float]:
    """Where a candidate's trial starts: neutral, but for darken and lighten, flat at their neutral colour.

    min(B, 1) and max(B, 0) do not move when their colour does: least squares from there sees no slope.
    A mid-grey overlay at half opacity moves every pixel, and the fit goes on from there.
    """
    start = {}
    for mode in ("darken", "lighten"):
        if f"{mode}_gradient" in group:
            start.update({s.name: 0.5 for s in ADJUSTMENTS[f"{mode}_gradient"].settings[:6]})
            start[f"{mode}_opacity"] = 0.5
    return start


def _fit(
    thumbnails: list[_Thumbnail],
    look: Look,
    params: dict[str, float],
    free: set[str],
    *,
    iterations: int = JOINT_ITERATIONS,
) -> dict[str, float]:
    """``params`` with the settings in ``free`` fitted by bounded least squares (the rest as they are)."""
    space = [p for p in look.space() if p.name in free]
    fixed = {**look.params, **params}
    low = np.array([p.low for p in space])
    high = np.array([p.high for p in space])
    start = np.clip([fixed[p.name] for p in space], low, high)

    def residuals(x: np.ndarray) -> np.ndarray:
        return _residuals(thumbnails, look, {**fixed, **{p.name: float(v) for p, v in zip(space, x)}})

    # Neutral values sit on a range's end (an opacity of 1, a white of 1): trf keeps to the box. Its exact
    # trust-region solver takes an SVD of the Jacobian each iteration, most of the time for 60 settings: lsmr
    # (which scipy's 2-d subproblem cannot use for 1 or 2).
    solver = "lsmr" if len(space) > 2 else "exact"
    found = least_squares(
        residuals, start, bounds=(low, high), method="trf", tr_solver=solver, x_scale=high - low, diff_step=1e-3,
        max_nfev=iterations, xtol=1e-6, ftol=1e-8,
    )  # fmt: skip
    return {**fixed, **{p.name: float(v) for p, v in zip(space, found.x)}}
