"""What an evaluation tells the phases: its loss, its squared loss, and whether it is one level off the target."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ...problem import Evaluation
    from ...space import Space

__all__ = ["best", "exact_squares", "key", "loss", "one_level"]

ONE_LEVEL = 0.9  # share of differing samples one quantisation level off: the squared error is a V


def loss(evaluation: Evaluation) -> float:
    return math.inf if evaluation.loss is None else evaluation.loss


def exact_squares(evaluation: Evaluation) -> float:
    """The squared loss (for rmse: the mean squared error), which grows like |distance| near an exact answer."""
    return math.inf if evaluation.loss is None else evaluation.loss**2


def best(results: Sequence[Evaluation]) -> Evaluation | None:
    ok = [r for r in results if r.ok]
    return min(ok, key=loss) if ok else None


def key(evaluation: Evaluation, space: Space) -> tuple[Any, ...]:
    return tuple(evaluation.params[name] for name in space.names)


def one_level(evaluation: Evaluation, everywhere: bool = False) -> bool:
    """True when the render differs from the target by one quantisation level where it differs (mostly, or everywhere).

    There a continuous parameter's residuals are rounding flips whose number grows like the
    distance from the answer: the squared error is a V. A wrong step of a stepped parameter
    (the blur's kernel width) leaves some samples several levels off even at its best.
    """
    if evaluation.residuals is None:
        return False
    moved = np.abs(evaluation.residuals[evaluation.residuals != 0])
    if moved.size == 0:
        return False
    if everywhere:
        return bool(moved.max() <= 1.5 * moved.min())
    return float(np.mean(moved <= 1.5 * moved.min())) >= ONE_LEVEL
