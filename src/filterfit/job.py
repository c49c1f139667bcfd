"""What one call of ``fit()`` is asked to do: every argument checked, with one clear error for the first wrong one."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .editors import EditorFilter
from .errors import FilterFitError, ImageError
from .evaluator import default_workers
from .filters import as_filter
from .images import Image, is_raw
from .look import Look, as_look
from .metrics import get_metric, make_mask
from .pairs import ImageLike, as_image, check_same_size, load_pairs
from .space import as_space

if TYPE_CHECKING:
    from .filters import Filter
    from .metrics import Metric
    from .run import Progress
    from .space import Space
    from .strategies import Strategy

__all__ = ["Job", "check_inputs", "may_crop"]


@dataclass(frozen=True)
class Job:
    """What one call of ``fit()`` was asked to do, checked and normalised."""

    filter: Filter
    space: Space
    metric: Metric
    images: list[tuple[Image, Image]]
    mask: np.ndarray | None
    strategy: str | Strategy
    budget: int
    workers: int
    seed: int
    timeout: float
    border: int
    stop_below: float | None
    crop: bool | None
    probes: int
    callback: Callable[[Progress], None] | None
    reading: dict[str, Any] | None = None  # what the reference told, when the target was built from it


def check_inputs(
    filter: Any,
    space: Any,
    source: ImageLike | None,
    target: ImageLike | None,
    *,
    pairs: Sequence[tuple[ImageLike, ImageLike]] | None,
    look: Any,
    reference: ImageLike | None,
    metric: Any,
    strategy: str | Strategy,
    budget: int,
    workers: int | None,
    seed: int | None,
    timeout: float,
    mask: np.ndarray | None,
    border: int,
    stop_below: float | None,
    crop: bool | None,
    probes: int,
    max_pixels: int | None,
    callback: Callable[[Progress], None] | None,
    files: Mapping[str, str | Path] | None = None,
    editor: str | None = None,
) -> Job:
    """Stage 1: every argument checked (one clear error for the first wrong one), the images loaded once."""
    _check_counts(budget, workers, timeout, seed, stop_below)
    auto = isinstance(look, str) and look == "auto"
    if auto and (filter is not None or space is not None):
        raise FilterFitError(
            "look='auto' chooses the adjustments and so their parameters: name the adjustments instead "
            "(e.g. --look exposure,contrast) to fit a filter or parameters of your own"
        )
    if auto:  # the look is chosen from the images, loaded below: a stand-in until then
        filter = Look(["channel_mixer"])
        space = filter.space()
    else:
        filter, space = _filter_and_space(filter, space, as_look(look), editor, timeout)
    space = as_space(space)
    read = reference is not None and metric is None  # the target is built from what the reference can tell
    metric = get_metric(metric if metric is not None else "rmse")
    workers = workers or default_workers()
    seed = secrets.randbelow(2**31) if seed is None else seed
    filter = as_filter(filter, timeout=timeout, files=files)
    filter.check(space)
    if isinstance(filter, EditorFilter):  # a camera RAW source: the editor develops it, filterfit does not
        source = None if source is None else _developed(filter, source)
        pairs = [(_developed(filter, s), t) for s, t in pairs] if pairs else pairs
    if reference is not None and (target is not None or pairs is not None):
        raise ImageError("give either a target (or pairs) or a reference photo, not both")
    reading = None
    if reference is not None and read:
        built, reading = _target_from_reference(source, reference, max_pixels)
        images = load_pairs([built], max_pixels=max_pixels)
    else:
        given = pairs if pairs is not None else [(source, reference if reference is not None else target)]
        images = load_pairs(given, references=reference is not None, max_pixels=max_pixels)
    if auto:
        filter = _chosen_look(images, reference is not None and not read, seed)
        space = filter.space()
    mask = make_mask(images[0][1].pixels.shape, border=border, mask=mask)
    if mask is not None:
        check_same_size(images)
    if crop and not may_crop(filter, strategy):
        why = "a look searches a preview of the photos instead"
        if not isinstance(filter, Look):
            why = "a strategy object cannot be copied for it: give the strategy by name"
        raise FilterFitError(f"cannot search on a crop: {why}; leave out --crop")
    return Job(
        filter, space, metric, images, mask, strategy, budget, workers, seed, timeout, border, stop_below, crop,
        probes, callback, reading,
    )  # fmt: skip


def _target_from_reference(
    source: ImageLike | None, reference: ImageLike, max_pixels: int | None
) -> tuple[tuple[ImageLike | None, ImageLike | None], dict[str, Any]]:
    """The pair (source, the source with what the reference's look can be told to be) and that reading."""
    from .look.reference import read_reference

    if source is None:
        raise ImageError("give both a source and a target image")
    source_image = as_image(source, max_pixels)
    target, reading = read_reference(source_image, as_image(reference, max_pixels))
    return (source_image, target), reading.to_dict()


def _chosen_look(images: list[tuple[Image, Image]], unpaired: bool, seed: int) -> Look:
    """``look="auto"``: the adjustments that explain the pairs (look/choose.py); for a reference, the default set.

    A photo of another scene compared by its distribution cannot say which adjustments made its look: its
    colours are the scene's too. (By default a reference becomes a target of what it can tell, a pair.)
    """
    if unpaired:
        return Look(seed=seed)
    from .look.choose import choose_look

    return choose_look(images, seed=seed)[0]


def _developed(filter: EditorFilter, image: ImageLike) -> ImageLike:
    """A camera RAW file as the editor develops it at neutral (its pixels stand for it); anything else as it is."""
    if isinstance(image, (str, Path)) and is_raw(image):
        return filter.develop(Path(image))
    return image


def may_crop(filter: Filter, strategy: str | Strategy) -> bool:
    """A strategy object cannot be cloned for the crop: only one given by name gets a crop phase.

    Nor a look: its preview is the cheap first phase, and a vignette depends on the whole frame. Nor an
    editor: it develops a RAW file whole, and its vignetting acts on the whole frame.
    """
    return isinstance(strategy, str) and not isinstance(filter, (Look, EditorFilter))


def _filter_and_space(
    filter: Any, space: Any, look: Look | None, editor: str | None = None, timeout: float = 60.0
) -> tuple[Any, Any]:
    """A look or an editor stands for the filter, and its space for the search space unless one is given."""
    if editor is not None:
        from .editors import get_editor

        if filter is not None or look is not None:
            raise FilterFitError("give either editor= or a filter (command, function or look), not both")
        chosen = get_editor(editor)
        space = chosen.space(None if space is None else as_space(space))
        return chosen.filter(space.names, timeout=timeout), space
    if look is not None:
        if filter is not None:
            raise FilterFitError("give either a filter (command or function) or look=, not both")
        filter = look
    if filter is None:
        raise FilterFitError("give a filter (a command template, a function or a Look) or look=True")
    if space is None:
        if not isinstance(filter, Look):
            raise FilterFitError("give the search space (e.g. ['radius=0:100', 'sigma=0:100'])")
        space = filter.space()
    return filter, space


def _check_counts(budget: int, workers: int | None, timeout: float, seed: int | None, stop_below: float | None) -> None:
    if not isinstance(budget, int) or budget < 1:
        raise FilterFitError(f"budget must be an integer >= 1 evaluation, but got {budget!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise FilterFitError(f"workers must be an integer >= 1, but got {workers!r}")
    if not timeout > 0:
        raise FilterFitError(f"timeout must be > 0 seconds, but got {timeout!r}")
    if seed is not None and not (isinstance(seed, int) and 0 <= seed < 2**32):  # numpy's and optuna's range
        raise FilterFitError(f"seed must be an integer from 0 to {2**32 - 1}, but got {seed!r}")
    if stop_below is not None and not math.isfinite(stop_below):  # nan would never stop, inf would stop at once
        raise FilterFitError(f"--stop-below (stop_below=) must be a finite number, but got {stop_below!r}")
