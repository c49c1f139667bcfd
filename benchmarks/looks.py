"""Issue 4's looks benchmark: paired and unpaired fits of random looks on real photos.

- **Paired**: random looks of the default set (12 parameters) on scikit-image's real photos
  (astronaut, coffee, chelsea, rocket); the target is the look's render saved as 8 bits, as a
  photographer's export would be. ``auto`` fits it within 500 evaluations (2 workers). Goal:
  PSNR >= 40 dB between the fitted render and the target on every look, and every identifiable
  parameter within 2% of its range of the truth. A parameter is *identifiable* here when moving it
  by 2% of its range, with every other parameter re-fitted to make up for it (linearised at the
  truth: the Schur complement of the Jacobian of the render), still changes the render by an rmse of
  at least ``IDENTIFIABLE_RMSE`` = 1e-4 (at the 8-bit target's rounding-noise floor, rmse 0.00113,
  that raises the squared error by 0.8%, which least squares over ~10^5 samples sees); one that
  the others can stand in for, or that acts on no pixel of this photo (highlights on a dark
  render), cannot be asked to come back within 2%.
- **Unpaired**: photo A with a hidden look is the reference, photo B of another scene the source;
  filterfit fits the look to what the reference tells (``look/reference.py``: its black and white
  points, a vignette as strong as the evidence; auto, 300 evaluations), and the score is
  the PSNR between B with the fitted look and B with the true look. The baselines are every method of
  the color-matcher package (a benchmark dependency only), transferring the reference's colours to
  B, and B itself unchanged. Goal: on looks with a vignette, mean PSNR >= 3 dB above the best
  color-matcher method; on colour-only looks, no worse than it.
- The CPU cost of one look evaluation on a 512 x 512 photo (render, hash, rmse), and what the
  preview (multi-fidelity) saves on one paired fit.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import filterfit
from filterfit.images import Image, quantize, to_float
from filterfit.look import DEFAULT_ADJUSTMENTS, Look
from filterfit.metrics import get_metric, psnr, rmse
from filterfit.problem import Problem, _hash

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
UNPAIRED_VIGNETTE = ("exposure", "temperature", "tint", "contrast", "saturation", "fade", "vignette")
UNPAIRED_COLOUR = tuple(name for name in UNPAIRED_VIGNETTE if name != "vignette")
PSNR_GOAL = 40.0
PARAM_GOAL = 0.02  # of each parameter's range
VIGNETTE_GAIN_GOAL = 3.0  # dB above the best color-matcher method
IDENTIFIABLE_RMSE = 1e-4
CENTRAL = (0.2, 0.8)  # random looks draw each parameter from this part of its range
CM_METHODS = ("default", "hm", "reinhard", "mvgd", "mkl", "hm-mvgd-hm", "hm-mkl-hm")
PAIRED_SEED = 2026  # the paired looks' generator: look 0 is the first draw, on astronaut


@dataclass(frozen=True)
class LooksPlan:
    paired: int
    paired_budget: int
    unpaired: int  # looks of each kind (with a vignette, colour only)
    unpaired_budget: int

    def capped(self, budget: int) -> LooksPlan:
        return LooksPlan(self.paired, min(self.paired_budget, budget), self.unpaired, min(self.unpaired_budget, budget))


PLANS = {
    "default": LooksPlan(paired=10, paired_budget=500, unpaired=10, unpaired_budget=300),
    "full": LooksPlan(paired=10, paired_budget=500, unpaired=10, unpaired_budget=500),
    "quick": LooksPlan(paired=1, paired_budget=60, unpaired=1, unpaired_budget=40),
}


@dataclass(frozen=True)
class Paired:
    photo: str
    truth: dict[str, float]
    found: dict[str, float]
    psnr: float
    evaluations: int
    wall_s: float
    misses: dict[str, float]  # parameter -> |found - truth| / range
    identifiable: tuple[str, ...]

    @property
    def worst_identifiable(self) -> float:
        return max((self.misses[name] for name in self.identifiable), default=0.0)

    @property
    def met(self) -> bool:
        return self.psnr >= PSNR_GOAL and self.worst_identifiable <= PARAM_GOAL


@dataclass(frozen=True)
class Unpaired:
    kind: str  # "vignette" or "colour"
    source: str
    reference: str
    unchanged: float  # PSNR of B as it is against B with the true look
    fitted: float
    baselines: dict[str, float]  # color-matcher method -> PSNR
    wall_s: float


@dataclass
class LooksResults:
    plan: LooksPlan
    paired: list[Paired] = field(default_factory=list)
    unpaired: list[Unpaired] = field(default_factory=list)
    cost_ms: dict[str, float] = field(default_factory=dict)
    fidelity: dict[str, float] = field(default_factory=dict)
    cm_missing: bool = False


def photo(name: str) -> np.ndarray:
    from skimage import data

    return to_float(getattr(data, name)())


def random_look(adjustments: tuple[str, ...], rng: np.random.Generator, **fixed: float) -> Look:
    """Every parameter drawn uniformly from the central part of its range."""
    space = Look(adjustments).space()
    params = {p.name: p.low + (p.high - p.low) * rng.uniform(*CENTRAL) for p in space}
    return Look(adjustments, {**params, **fixed})


def exported(pixels: np.ndarray) -> np.ndarray:
    return to_float(quantize(pixels, 8))


def identifiable(look: Look, source: np.ndarray) -> tuple[str, ...]:
    """The parameters a 2% move of which the others cannot make up for (see the module docstring)."""
    space = look.space()
    base = look.apply(source).astype(np.float64)
    columns = []
    for param in space:
        step = 0.01 * (param.high - param.low)
        moved = look.apply(source, {param.name: look.params[param.name] + step}).astype(np.float64)
        columns.append((moved - base).ravel() / np.sqrt(base.size) / 0.01)  # rmse per unit of the range
    jacobian = np.stack(columns, axis=1)
    found = []
    for index, param in enumerate(space):
        # What the others cannot make up for: the part of this column outside the span of theirs.
        others = np.delete(jacobian, index, axis=1)
        fitted = others @ np.linalg.lstsq(others, jacobian[:, index], rcond=None)[0]
        if PARAM_GOAL * np.linalg.norm(jacobian[:, index] - fitted) >= IDENTIFIABLE_RMSE:
            found.append(param.name)
    return tuple(found)


def paired_look(name: str, rng: np.random.Generator, size: int | None = None) -> tuple[np.ndarray, np.ndarray, Look]:
    """One paired problem: the photo, a random look of the default set, and its render exported as 8 bits.

    ``size`` resizes the photo to ``size`` x ``size`` first (anti-aliased, then 8 bits, as a smaller
    photo's file would hold it) unless it is that size already, so that one look makes the same pair
    at several sizes.
    """
    source = photo(name)
    if size is not None and source.shape[:2] != (size, size):
        from skimage import transform

        source = exported(transform.resize(source, (size, size), anti_aliasing=True))
    truth = random_look(DEFAULT_ADJUSTMENTS, rng)
    return source, exported(truth.apply(source)), truth


def run_paired(plan: LooksPlan, log: Any) -> list[Paired]:
    rng = np.random.default_rng(PAIRED_SEED)
    outcomes = []
    for index in range(plan.paired):
        name = PHOTOS[index % len(PHOTOS)]
        source, target, truth = paired_look(name, rng)
        started = time.perf_counter()
        result = filterfit.fit(
            look=True, source=source, target=target, budget=plan.paired_budget, workers=2, seed=index
        )
        wall = time.perf_counter() - started
        found = Look.from_dict(result.look)
        space = truth.space()
        misses = {p.name: abs(found.params[p.name] - truth.params[p.name]) / (p.high - p.low) for p in space}
        outcome = Paired(
            photo=name,
            truth=truth.params,
            found=found.params,
            psnr=psnr(target, found.apply(source)),
            evaluations=result.evaluations,
            wall_s=wall,
            misses=misses,
            identifiable=identifiable(truth, source),
        )
        outcomes.append(outcome)
        log(
            f"looks paired {index} ({name}): {outcome.psnr:.1f} dB, worst identifiable "
            f"{outcome.worst_identifiable:.2%}, {outcome.evaluations} evaluations, {wall:.1f} s"
        )
    return outcomes


def colour_transfers(source: np.ndarray, reference: np.ndarray) -> dict[str, float] | None:
    """Each color-matcher method's transfer of the reference's colours to the source (None if not installed)."""
    try:
        from color_matcher import ColorMatcher
    except ImportError:
        return None
    outputs = {}
    for method in CM_METHODS:
        transferred = ColorMatcher().transfer(
            src=source.astype(np.float64), ref=reference.astype(np.float64), method=method
        )
        # mkl's matrix square root can come back complex with a negligible imaginary part: drop it explicitly
        outputs[method] = np.clip(np.real(transferred), 0, 1).astype(np.float32)
    return outputs  # type: ignore[return-value]


def run_unpaired(plan: LooksPlan, log: Any) -> tuple[list[Unpaired], bool]:
    rng = np.random.default_rng(4)
    combos = [(b, a) for b in PHOTOS for a in PHOTOS if a != b]
    outcomes, missing = [], False
    for kind, adjustments in (("vignette", UNPAIRED_VIGNETTE), ("colour", UNPAIRED_COLOUR)):
        for index in range(plan.unpaired):
            source_name, reference_name = combos[index % len(combos)]
            fixed = {"vignette_amount": -rng.uniform(0.3, 0.8)} if kind == "vignette" else {}
            look = random_look(adjustments, rng, **fixed)
            source = photo(source_name)
            reference = exported(look.apply(photo(reference_name)))
            truth = look.apply(source)
            started = time.perf_counter()
            result = filterfit.fit(
                look=adjustments, source=source, reference=reference, budget=plan.unpaired_budget, workers=2, seed=index
            )
            wall = time.perf_counter() - started
            fitted = Look.from_dict(result.look).apply(source)
            transfers = colour_transfers(source, reference)
            missing = missing or transfers is None
            baselines = {m: psnr(truth, out) for m, out in (transfers or {}).items()}
            outcome = Unpaired(
                kind, source_name, reference_name, psnr(truth, source), psnr(truth, fitted), baselines, wall
            )
            outcomes.append(outcome)
            best = max(baselines.values(), default=float("nan"))
            log(
                f"looks unpaired {kind} {index} ({source_name} <- {reference_name}): fitted {outcome.fitted:.1f} dB, "
                f"best color-matcher {best:.1f} dB, unchanged {outcome.unchanged:.1f} dB, {wall:.1f} s"
            )
    return outcomes, missing


def evaluation_cost() -> dict[str, float]:
    """Median CPU milliseconds of the default look on the 512 x 512 photo: render, evaluation and parts of it.

    CPU time of this process, not wall time: on a machine shared with other jobs the wall time of a
    few milliseconds of numpy swings several-fold, and the CPU time is what one idle core would take.
    """
    from filterfit.fidelity.preview import plan_preview

    source = photo("astronaut")
    look = Look()
    params = random_look(DEFAULT_ADJUSTMENTS, np.random.default_rng(0)).params
    target = exported(look.apply(source, params))
    full = Problem(look, look.space(), [(Image(source), Image(target))], get_metric("rmse"))
    preview = plan_preview(full, budget=200)
    assert preview is not None
    render = look.render(full.pairs[0][0], params)
    return {
        "evaluation": _median_ms(lambda: full.evaluate(params)),
        "of which the look's render": _median_ms(lambda: look.render(full.pairs[0][0], params)),
        "the render's hash": _median_ms(lambda: _hash([render])),
        "rmse": _median_ms(lambda: rmse(target, render)),
        "preview evaluation": _median_ms(lambda: preview.problem.evaluate(params)),
    }


def _median_ms(function: Any, repeats: int = 30) -> float:
    function()
    times = []
    for _ in range(repeats):
        started = time.process_time()
        function()
        times.append(time.process_time() - started)
    return 1000 * statistics.median(times)


def fidelity_saving(budget: int) -> dict[str, float]:
    """One paired fit of the default look with and without the preview: wall seconds and PSNR."""
    source = photo("astronaut")
    truth = random_look(DEFAULT_ADJUSTMENTS, np.random.default_rng(7))
    target = exported(truth.apply(source))
    figures = {}
    for label, preview in (("preview", True), ("full", False)):
        started = time.perf_counter()
        result = filterfit.fit(Look(preview=preview), source=source, target=target, budget=budget, workers=2, seed=0)
        figures[f"{label} wall s"] = time.perf_counter() - started
        figures[f"{label} psnr"] = psnr(target, Look.from_dict(result.look).apply(source))
    return figures


def run(mode: str, budget: int | None, log: Any) -> LooksResults:
    plan = PLANS[mode] if budget is None else PLANS[mode].capped(budget)
    results = LooksResults(plan)
    results.cost_ms = evaluation_cost()
    log(f"looks: one evaluation {results.cost_ms}")
    results.paired = run_paired(plan, log)
    results.unpaired, results.cm_missing = run_unpaired(plan, log)
    results.fidelity = fidelity_saving(plan.paired_budget)
    log(f"looks: multi-fidelity {results.fidelity}")
    return results


# -- the report ------------------------------------------------------------------


def render(results: LooksResults) -> str:
    sections = [
        "## Looks (issue 4)",
        _goals(results),
        "### Paired: random looks of the default set (12 parameters)\n\n" + _paired_table(results.paired),
        "### Unpaired: another scene as the reference\n\n" + _unpaired_table(results),
        "### Cost and multi-fidelity\n\n" + _cost(results),
    ]
    return "\n\n".join(sections) + "\n"


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    return "\n".join([_row(header), _row(["---"] * len(header)), *(_row(row) for row in rows)])


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def unpaired_gains(results: LooksResults, kind: str) -> tuple[float, float, str]:
    """Mean PSNR of the fitted look, of the best color-matcher method (best by its mean), and that method."""
    runs = [u for u in results.unpaired if u.kind == kind]
    if not runs or not runs[0].baselines:
        return _mean([u.fitted for u in runs]), float("nan"), "-"
    means = {m: _mean([u.baselines[m] for u in runs]) for m in runs[0].baselines}
    best = max(means, key=lambda m: means[m])
    return _mean([u.fitted for u in runs]), means[best], best


def _goals(results: LooksResults) -> str:
    paired = results.paired
    met = sum(p.met for p in paired)
    rows = [
        [
            f"paired: {len(paired)} random looks, auto <= {results.plan.paired_budget} evaluations, PSNR >= 40 dB on "
            "all and identifiable parameters within 2% of range",
            f"{met}/{len(paired)} met; PSNR min {min((p.psnr for p in paired), default=float('nan')):.1f} dB; worst "
            f"identifiable miss {max((p.worst_identifiable for p in paired), default=float('nan')):.1%}",
            "yes" if paired and met == len(paired) else "no",
        ]
    ]
    for kind, goal in (("vignette", VIGNETTE_GAIN_GOAL), ("colour", 0.0)):
        fitted, best, method = unpaired_gains(results, kind)
        verdict = (
            "not measured (color-matcher missing)" if results.cm_missing else ("yes" if fitted - best >= goal else "no")
        )
        rows.append(
            [
                f"unpaired, {kind} looks: mean PSNR >= best color-matcher + {goal:g} dB",
                f"{fitted:.2f} dB vs {best:.2f} dB ({method}): {fitted - best:+.2f} dB",
                verdict,
            ]
        )
    cost = results.cost_ms.get("evaluation", float("nan"))
    parts = ", ".join(f"{name} {value:.1f} ms" for name, value in results.cost_ms.items() if name != "evaluation")
    rows.append(
        [
            "one look evaluation (512 x 512, default look: render, hash, rmse) <= 10 ms (CPU time)",
            f"{cost:.1f} ms ({parts})",
            "yes" if cost <= 10 else "no",
        ]
    )
    return _table(["goal", "measured", "met"], rows)


def _paired_table(paired: list[Paired]) -> str:
    rows = []
    for index, p in enumerate(paired):
        hidden = [name for name in p.truth if name not in p.identifiable]
        rows.append(
            [
                index,
                p.photo,
                f"{p.psnr:.1f}",
                f"{p.worst_identifiable:.2%}",
                f"{max(p.misses.values()):.2%}",
                ", ".join(hidden) or "-",
                p.evaluations,
                f"{p.wall_s:.1f}",
            ]
        )
    header = [
        "look",
        "photo",
        "auto PSNR dB",
        "worst identifiable miss",
        "worst miss",
        "not identifiable",
        "evaluations",
        "wall s",
    ]
    return _table(header, rows)


def _unpaired_table(results: LooksResults) -> str:
    rows = []
    for u in results.unpaired:
        best = max(u.baselines, key=lambda m: u.baselines[m]) if u.baselines else "-"
        rows.append(
            [
                u.kind,
                f"{u.source} <- {u.reference}",
                f"{u.fitted:.2f}",
                f"{u.baselines[best]:.2f} ({best})" if u.baselines else "not installed",
                f"{u.unchanged:.2f}",
                f"{u.wall_s:.1f}",
            ]
        )
    header = ["look", "source <- reference", "filterfit PSNR dB", "best color-matcher dB", "unchanged dB", "wall s"]
    lines = [_table(header, rows)]
    for kind in ("vignette", "colour"):
        runs = [u for u in results.unpaired if u.kind == kind]
        if runs and runs[0].baselines:
            means = ", ".join(f"{m} {_mean([u.baselines[m] for u in runs]):.2f}" for m in runs[0].baselines)
            lines.append(
                f"Means over the {kind} looks: filterfit {_mean([u.fitted for u in runs]):.2f} dB, unchanged "
                f"{_mean([u.unchanged for u in runs]):.2f} dB; color-matcher {means}."
            )
    return "\n\n".join(lines)


def _cost(results: LooksResults) -> str:
    cost = ", ".join(f"{name} {value:.1f} ms" for name, value in results.cost_ms.items())
    keys = ("preview wall s", "preview psnr", "full wall s", "full psnr")
    f = {key: results.fidelity.get(key, float("nan")) for key in keys}
    saving = (
        f"One paired fit of the default look on the 512 x 512 photo, {results.plan.paired_budget} evaluations, "
        f"2 workers: with the preview {f['preview wall s']:.1f} s ({f['preview psnr']:.1f} dB), "
        f"at full resolution throughout {f['full wall s']:.1f} s ({f['full psnr']:.1f} dB)."
    )
    return f"Default look on the 512 x 512 photo (median CPU time of 30): {cost}.\n\n{saving}"
