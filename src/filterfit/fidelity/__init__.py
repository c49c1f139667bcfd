"""Fidelity: search on cheaper pixels first, decide on the whole photo.

An evaluation of a large photo costs what its pixels cost, yet a filter's
parameters usually show as clearly in far fewer of them. So a fit may score
its search on a reduced version of its images (a *fidelity*) and let only
whole-photo evaluations decide the answer. There are two kinds, chosen from
what the filter is:

* :class:`~.preview.Preview`, for a **per-pixel** filter (``filter.per_pixel``,
  e.g. a look of colour, vignette and grain): every ``k``-th pixel of each
  image renders exactly as in the whole render, so the whole search runs on
  the preview (``k``\\ :sup:`2` times fewer pixels) and its best few
  candidates are then evaluated on the whole photo; the best of those is the
  answer (hand-over ``"confirm"``).
* :class:`~.crop.Crop`, for a **spatial** filter (a command: a blur, a
  sharpen) on a photo large enough: a crop plus a margin is rendered and only
  the inside of the margin compared, so a neighbourhood filter sees the same
  pixels around every compared pixel as in the whole photo. A strategy of its
  own searches the crop with a share of the budget, and the whole photo's
  search goes on from what it found and learnt (hand-over ``"continue"``).

Each trial scored at a reduced fidelity records it in one user attribute,
``fidelity`` (e.g. ``"crop 768x768+616+616"``, ``"preview 1/2"``); a trial
without it was scored on the whole image. Errors at different fidelities are
of different pixels and never compare: the best, the intervals and a resumed
run's counts each take only the trials of their own fidelity. Studies
recorded before this attribute said ``crop`` and ``scale`` instead;
:func:`fidelity_of` reads both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..problem import Problem

__all__ = ["Fidelity", "describe", "fidelity_of", "plan_fidelity"]


class Fidelity(ABC):
    """Reduced pixels a search scores first, and how it hands over to the whole photo."""

    label: str  # the trials' ``fidelity`` attribute
    problem: Problem  # the problem on the reduced pixels
    hand_over: Literal["continue", "confirm"]
    confirmations: int = 0  # "confirm": the best candidates evaluated on the whole photo at the end
    scan_only: bool = False  # "continue": only the strategy's global scans run at this fidelity

    @abstractmethod
    def budget(self, total: int) -> int:
        """Evaluations the search may spend at this fidelity out of ``total``."""


def plan_fidelity(whole: Problem, *, crop: bool | None, may_crop: bool, scans: bool, budget: int) -> Fidelity | None:
    """The fidelity the search starts at for this problem, or None for the whole photo throughout.

    A per-pixel filter gets a preview; any other filter a crop, when
    ``may_crop`` and the photo is large enough (``crop`` as
    :func:`~.crop.plan_crop` takes it; ``scans``: the strategy scans first).
    """
    from .crop import plan_crop
    from .preview import plan_preview

    if getattr(whole.filter, "per_pixel", False):
        return plan_preview(whole, budget)
    if not may_crop:
        return None
    return plan_crop(whole, enabled=crop, scans=scans)


def fidelity_of(attrs: Mapping[str, Any]) -> str | None:
    """A trial's fidelity from its user attributes (or a result.json record), None for the whole image.

    Reads the older ``crop`` (its WxH+X+Y) and ``scale`` (1/k) attributes too.
    """
    if attrs.get("fidelity") is not None:
        return str(attrs["fidelity"])
    if attrs.get("crop") is not None:
        return f"crop {attrs['crop']}"
    scale = float(attrs.get("scale", 1.0))
    return None if scale == 1 else f"preview 1/{round(1 / scale)}"


def describe(label: str) -> str:
    """A fidelity's label as words: "the 768x768+616+616 crop", "a preview of every 2nd pixel"."""
    kind, _, detail = label.partition(" ")
    if kind == "crop":
        return f"the {detail} crop"
    if kind == "preview":
        stride = int(detail.partition("/")[2])
        return f"a preview of every {_ordinal(stride)} pixel"
    return label


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
