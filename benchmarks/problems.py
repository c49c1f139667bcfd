"""The benchmark's problems: photos, targets made by real ImageMagick, and what counts as success.

B1, the memo's: scikit-image's astronaut (512x512) saved as PNG, target made by
``convert photo.png -blur 27x20 target.png``; radius and sigma searched in [0, 100].
ImageMagick 6 makes the blur kernel floor(2 x radius) + 1 pixels wide, so every radius in
[27, 27.5) renders the same pixels. Success: 27 <= radius < 27.5, |sigma - 20| <= 0.05 and
rmse <= 1e-4.

B2: B1 at 4 megapixels. The astronaut upscaled to 2048x2048 (``skimage.transform.resize``,
order 3, anti-aliasing off: plain bicubic interpolation), the same blur, the same success rule.
It shows how the cost of a fit grows with the pixel count (16x B1's).

B3: a six-parameter tone and colour chain, on the 512x512 photo::

    convert {input} -modulate {brightness},{saturation},{hue}
            -sigmoidal-contrast {contrast}x{midpoint}% -gamma {gamma} {output}

    parameter  brightness  saturation  hue     contrast  midpoint  gamma
    range      50:150      50:150      80:120  1:15      20:80     0.5:2
    truth      112.7       83.4        93.1    6.3       41.7      1.62

The truth is off the centre of every range and off any round grid. Success: every parameter
within 1% of its range of the truth (e.g. |brightness - 112.7| <= 1).

Why this chain is identifiable (measured on the 8-bit PNG target with filterfit's own renders
and rmse; ``identifiability()`` repeats the check in every report): rmse is exactly 0 at the
truth; moving any one parameter by 1% of its range raises it to 0.0019 (saturation) ... 0.0048
(brightness), all clearly above 1e-3; the worst combination of 1% moves (the smallest singular
value of the residuals' Jacobian, one column per 1% move) still costs rmse 0.0011; and the most
alike pair, brightness and midpoint, have residual directions at |cosine| 0.72, so no pair of
parameters can stand in for each other. (A gamma of 0.83 made brightness and midpoint more alike,
|cosine| 0.83, though still identifiable; 1.27 sat too near the centre of gamma's range.)
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from skimage import data, transform

from filterfit.demo import PARAMS, TEMPLATE
from filterfit.filters import CommandFilter
from filterfit.fit import load_pairs
from filterfit.images import save_image, to_float
from filterfit.metrics import get_metric
from filterfit.problem import Problem
from filterfit.space import as_space

BLUR_TRUTH = {"radius": 27.0, "sigma": 20.0}

CHAIN = (
    "convert {input} -modulate {brightness},{saturation},{hue} "
    "-sigmoidal-contrast {contrast}x{midpoint}% -gamma {gamma} {output}"
)
CHAIN_PARAMS = (
    "brightness=50:150",
    "saturation=50:150",
    "hue=80:120",
    "contrast=1:15",
    "midpoint=20:80",
    "gamma=0.5:2",
)
CHAIN_TRUTH = {"brightness": 112.7, "saturation": 83.4, "hue": 93.1, "contrast": 6.3, "midpoint": 41.7, "gamma": 1.62}

NAMES = ("B1", "B2", "B3")


@dataclass(frozen=True)
class BenchProblem:
    """One problem: a command template, its search space, the image pair and the success rule."""

    name: str
    description: str
    template: str
    params: tuple[str, ...]
    truth: dict[str, float]
    source: Path
    target: Path
    success: Callable[[dict[str, Any], float | None], bool] = field(repr=False)
    rule: str  # the success rule, in words, for the report


def b1_success(params: dict[str, Any], error: float | None) -> bool:
    """Kernel width 55 (radius in [27, 27.5)), sigma within 0.05 of 20, and a near-exact render."""
    return error is not None and 27 <= params["radius"] < 27.5 and abs(params["sigma"] - 20) <= 0.05 and error <= 1e-4


def within_one_percent(params: dict[str, Any], error: float | None) -> bool:
    """B3: every parameter within 1% of its range of the truth."""
    space = as_space(list(CHAIN_PARAMS))
    return error is not None and all(
        abs(params[p.name] - CHAIN_TRUTH[p.name]) <= 0.01 * (p.high - p.low) for p in space
    )


def scratch_folder() -> Path:
    """Where the photos and targets go: RAM (/dev/shm) when possible, so they never count as disk writes."""
    ram = Path("/dev/shm")
    return ram if ram.is_dir() and os.access(ram, os.W_OK) else Path(os.environ.get("TMPDIR", "/tmp"))


def make_problems(folder: Path, names: tuple[str, ...] = NAMES) -> list[BenchProblem]:
    """Write the photos and targets of the named problems into ``folder``."""
    photo = save_image(to_float(data.astronaut()), folder / "photo.png")
    makers = {"B1": _b1, "B2": _b2, "B3": _b3}
    return [makers[name](folder, photo) for name in NAMES if name in names]


def _b1(folder: Path, photo: Path) -> BenchProblem:
    return BenchProblem(
        name="B1",
        description="the memo's blur: 512x512 photo, PNG target made by `convert -blur 27x20`",
        template=TEMPLATE,
        params=PARAMS,
        truth=BLUR_TRUTH,
        source=photo,
        target=make_target(TEMPLATE, BLUR_TRUTH, photo, folder / "b1-target.png"),
        success=b1_success,
        rule="27 <= radius < 27.5, |sigma - 20| <= 0.05, rmse <= 1e-4",
    )


def _b2(folder: Path, photo: Path) -> BenchProblem:
    pixels = to_float(data.astronaut())
    big = transform.resize(pixels, (2048, 2048), order=3, anti_aliasing=False)
    source = save_image(np.clip(big, 0, 1).astype(np.float32), folder / "photo-2048.png")
    return BenchProblem(
        name="B2",
        description="B1 at 4 megapixels: the photo upscaled to 2048x2048 (bicubic), the same blur",
        template=TEMPLATE,
        params=PARAMS,
        truth=BLUR_TRUTH,
        source=source,
        target=make_target(TEMPLATE, BLUR_TRUTH, source, folder / "b2-target.png"),
        success=b1_success,
        rule="as B1",
    )


def _b3(folder: Path, photo: Path) -> BenchProblem:
    return BenchProblem(
        name="B3",
        description="a 6-parameter chain: -modulate, -sigmoidal-contrast, -gamma on the 512x512 photo",
        template=CHAIN,
        params=CHAIN_PARAMS,
        truth=CHAIN_TRUTH,
        source=photo,
        target=make_target(CHAIN, CHAIN_TRUTH, photo, folder / "b3-target.png"),
        success=within_one_percent,
        rule="every parameter within 1% of its range of the truth",
    )


def make_target(template: str, truth: dict[str, float], source: Path, target: Path) -> Path:
    """Run the real command on files, values formatted the way filterfit formats them."""
    subprocess.run(CommandFilter(template).argv(truth, str(source), str(target)), check=True)
    return target


def in_process(problem: BenchProblem) -> Problem:
    """filterfit's own render-and-score for ``problem``, built the way ``fit()`` builds it, in this process."""
    space = as_space(list(problem.params))
    pairs = load_pairs([(problem.source, problem.target)])
    command = CommandFilter(problem.template).prepare([pairs[0][0]], pairs[0][1], single_thread=False)
    return Problem(command, space, pairs, get_metric("rmse"))


@dataclass(frozen=True)
class Identifiability:
    """How clearly the target pins down each parameter (see the module docstring)."""

    at_truth: float
    moves: dict[str, tuple[float, float]]  # parameter -> rmse after -1% and +1% of its range
    worst_combination: float  # smallest singular value of the Jacobian of 1% moves (rmse units)
    most_alike: tuple[str, str, float]  # the pair whose residual directions are closest, |cosine|


def identifiability(problem: BenchProblem) -> Identifiability:
    """Move each parameter by 1% of its range from the truth and see how much the render changes."""
    scorer = in_process(problem)
    target = scorer.pairs[0][1].pixels
    moves, columns = {}, []
    for param in scorer.space:
        changes = []
        for sign in (-1, 1):
            moved = {**problem.truth, param.name: problem.truth[param.name] + sign * 0.01 * (param.high - param.low)}
            residual = (scorer.render(moved)[0] - target).astype(np.float64).ravel()
            changes.append(float(np.sqrt(np.mean(residual**2))))
        moves[param.name] = (changes[0], changes[1])
        columns.append(residual / np.sqrt(residual.size))  # the +1% move, scaled so its norm is the rmse
    jacobian = np.stack(columns, axis=1)
    return Identifiability(
        at_truth=float(scorer.evaluate(problem.truth).value or 0.0),
        moves=moves,
        worst_combination=float(np.linalg.svd(jacobian, compute_uv=False)[-1]),
        most_alike=_most_alike(jacobian, [p.name for p in scorer.space]),
    )


def _most_alike(jacobian: np.ndarray, names: list[str]) -> tuple[str, str, float]:
    unit = jacobian / np.linalg.norm(jacobian, axis=0)
    cosines = np.abs(unit.T @ unit) - np.eye(len(names))  # ignore each column with itself
    first, second = np.unravel_index(np.argmax(cosines), cosines.shape)
    return names[first], names[second], float(cosines[first, second])
