"""A best value at the edge of the range searched: the answer may lie beyond what the search was allowed.

A search only looks inside the ranges it is given. When the best value of a
parameter ends within 0.5 % of an end of its range (in the range's own scale:
a log range in log units) and the render is not an exact match, the images
would most likely be matched better past that end, so the answer is flagged:

- a range the caller chose (``--param s=0.5:4``): ``at the upper edge of 0.5:4:
  the answer may lie beyond; widen the range (--param s=...)``;
- one of the look's own adjustment ranges: ``at the upper limit of its range
  -1:1: the photo may need more than contrast can give``. An end where the
  adjustment is neutral (``fade`` at 0: no fade) is not a limit, only "not used".

No flag when the render matches exactly (the answer is there, at the edge), nor
for a parameter the probes found to have no effect near the best.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .space import Param, Space

__all__ = ["EDGE_SHARE", "edge_flags"]

EDGE_SHARE = 0.005  # of the range (in unit coordinates): closer than this to an end is "at the edge"


def edge_flags(
    space: Space,
    best_params: Mapping[str, Any],
    flags: Mapping[str, list[str]],
    *,
    exact: bool,
    neutral: Mapping[str, float] | None = None,
) -> dict[str, list[str]]:
    """``flags`` with an edge flag added for each numeric parameter whose best value is at an end of its range.

    Parameters
    ----------
    space, best_params : the fit's search space and its answer
    flags : the flags known so far (parameters flagged "no effect ..." get no edge flag)
    exact : True when the best render matches the target (then nothing is flagged)
    neutral : parameters whose range is a look's own, with their neutral values

    Examples
    --------
    >>> from filterfit.space import Space
    >>> edge_flags(Space.parse(["s=0.5:4"]), {"s": 4.0}, {}, exact=False)
    {'s': ['at the upper edge of 0.5:4: the answer may lie beyond; widen the range (--param s=...)']}
    """
    merged = {name: list(texts) for name, texts in flags.items()}
    if exact:
        return merged
    for param in space.numeric:
        if any(flag.startswith("no effect") for flag in merged.get(param.name, [])):
            continue
        text = _edge_text(param, best_params[param.name], (neutral or {}).get(param.name))
        if text is not None:
            merged.setdefault(param.name, []).append(text)
    return merged


def _edge_text(param: Param, value: float, neutral: float | None) -> str | None:
    """The flag of a value at an end of ``param``'s range; None inside it, or at an end where a look is neutral."""
    if param.high <= param.low:
        return None
    unit = param.to_unit(value)
    side = "upper" if unit >= 1 - EDGE_SHARE else "lower" if unit <= EDGE_SHARE else None
    if side is None:
        return None
    limits = param.spec.split("=", 1)[1]
    if neutral is None:
        return f"at the {side} edge of {limits}: the answer may lie beyond; widen the range (--param {param.name}=...)"
    end = param.high if side == "upper" else param.low
    if end == neutral:
        return None
    return f"at the {side} limit of its range {limits}: the photo may need more than {param.name} can give"
