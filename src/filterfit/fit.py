"""``fit``: check the inputs, build the problem, plan its fidelity, open the study, search, confirm, measure, write.

``fit()`` reads as those stages, one function each: the inputs' checks are
:mod:`filterfit.job`'s, the search's loop is :class:`filterfit.run.Run`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from .edges import edge_flags
from .editors import EditorFilter
from .evaluator import Evaluator
from .fidelity import Fidelity, plan_fidelity
from .fidelity.preview import confirm_candidates
from .filters import CommandFilter
from .images import MAX_PIXELS, Image
from .job import Job, check_inputs, may_crop
from .journal import journal_storage
from .look import Look
from .outputs import prepare_folder, write_outputs
from .pairs import ImageLike, load_pairs
from .plots.png import Painter
from .problem import Problem
from .report import tool_versions
from .result import FitResult
from .run import Progress, Run
from .strategies import get_strategy
from .study import check_definition, definition, open_storage, open_study
from .uncertainty import PROBE_BUDGET, refine

if TYPE_CHECKING:
    from .filters import Filter
    from .metrics import Metric
    from .space import Space
    from .strategies import Strategy

__all__ = ["ImageLike", "Progress", "fit", "load_pairs"]

PROBE_SHARE_DIVISOR = 2  # the probes after a search take at most half its budget more


def fit(
    filter: Filter | str | Callable[..., Any] | None = None,
    space: Space | Any = None,
    source: ImageLike | None = None,
    target: ImageLike | None = None,
    *,
    pairs: Sequence[tuple[ImageLike, ImageLike]] | None = None,
    look: Look | Sequence[str] | str | bool | None = None,
    reference: ImageLike | None = None,
    metric: str | Metric | Callable[..., float] | None = None,
    strategy: str | Strategy = "auto",
    budget: int = 200,
    workers: int | None = None,
    seed: int | None = None,
    timeout: float = 60.0,
    mask: np.ndarray | None = None,
    border: int = 0,
    study: optuna.Study | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    out: str | Path | None = None,
    stop_below: float | None = None,
    crop: bool | None = None,
    callback: Callable[[Progress], None] | None = None,
    probes: int = PROBE_BUDGET,
    max_pixels: int | None = MAX_PIXELS,
    files: Mapping[str, str | Path] | None = None,
    editor: str | None = None,
) -> FitResult:
    """Find the filter parameters that turn ``source`` into ``target``.

    Parameters
    ----------
    filter : command template, function or Filter
        ``"convert {input} -blur {radius}x{sigma} {output}"``, or
        ``f(pixels, **params) -> pixels``.
    space : Space, list of ``--param`` strings, or mapping
        ``["radius=0:100", "sigma=0:100"]`` or ``{"radius": (0, 100)}``
        (for a look: its own space unless given).
    source, target : path, Image or array
        One pair; or give ``pairs=[(source, target), ...]``.
    look : Look, adjustment names or True, optional
        Fit filterfit's own photo-adjustment look instead of ``filter``:
        ``look=True`` is the default set, ``look=["exposure", "vignette"]``
        a chosen one (see :class:`filterfit.Look`), ``look="auto"`` the
        fewest adjustments that explain the pairs, chosen from them
        (:mod:`filterfit.look.choose`).
    reference : path, Image or array, optional
        A photo of another scene whose look ``source`` should take (instead of
        a target). Unless a metric is given, the target is the source with
        what the reference can tell of its look (its black and white points,
        a vignette as strong as the evidence, :mod:`filterfit.look.reference`),
        and ``result.reference`` says what that was; ``metric="distribution"``
        compares colour distributions instead.
    metric : str or callable
        ``rmse`` (default), ``mae``, ``psnr``, ``ssim``, ``de2000``,
        ``distribution`` or ``f(reference, candidate) -> float`` to minimise.
    strategy : str or Strategy
        ``auto`` (default), ``tpe``, ``cmaes``, ``qmc``, ``random``, ``gp``,
        ``benderopt``.
    budget : int
        Most evaluations of the search; the probes after it take at most
        half of it more (see ``probes``), and with ``out`` best.png one
        render: ``result.renders`` counts them all.
    stop_below : float, optional
        Stop as soon as the metric is this good (default: the metric's
        "indistinguishable" level, e.g. rmse 1e-5; 0 waits for a perfect match).
    workers : int, optional
        Parallel evaluations (default: the number of cores).
    timeout : float
        Seconds one evaluation of a command may take.
    mask, border : optional
        Pixels to compare (H x W booleans) and a border width to ignore.
    study : optuna.Study, optional
        Record the trials in this study.
    storage, study_name : str, optional
        An Optuna storage URL and study name to record the trials in (default:
        a journal file in ``out``, or memory).
    out : path, optional
        Folder for result.json, best.png, diff.png, convergence.png and the
        study's journal.
    crop : bool, optional
        Search a centre crop first and finish at full resolution (see
        :mod:`filterfit.fidelity.crop`). Default: for one pair of photos of 1.5
        megapixels or more, when the strategy is given by name; ``auto``
        scans a smaller crop of photos from 320x320 and does the rest on the
        whole photo. False for filters that depend on the whole frame.
    callback : callable, optional
        Called with a :class:`Progress` after each evaluation.
    probes : int
        Most evaluations after the search that measure each parameter's
        uncertainty interval and flags (0: none), and at most ``budget // 2``.
    max_pixels : int or None
        Image files of more pixels are refused before they are decoded
        (default :data:`filterfit.images.MAX_PIXELS`, 150 megapixels; None: no limit).
    files : mapping, optional
        Settings files of a command template: ``{"profile": "look.pp3"}``
        for ``... -p {profile} ...``. Each file is a template with ``{name}``
        placeholders of the parameters, written with their values for every
        evaluation into a RAM scratch folder; the command gets its path
        (:mod:`filterfit.filters.settings_file`). ``out`` gets it written
        with the best values.
    editor : str, optional
        Fit a photo editor's own sliders instead of ``filter``: ``"rawtherapee"``
        or ``"darktable"`` (:mod:`filterfit.editors`); ``space`` narrows them
        (``["exposure_compensation=-2:2"]``). ``result.editor`` names them and
        ``out`` gets the editor's settings file (``look.pp3``; ``look.xmp``
        and ``look.dtstyle``).

    Examples
    --------
    >>> result = fit("convert {input} -blur {radius}x{sigma} {output}",
    ...              ["radius=0:100", "sigma=0:100"], "photo.png", "blurred.png")  # doctest: +SKIP
    >>> result.best_params  # doctest: +SKIP
    {'radius': 27.2, 'sigma': 20.0}
    """
    job = check_inputs(
        filter, space, source, target, pairs=pairs, look=look, reference=reference, metric=metric,
        strategy=strategy, budget=budget, workers=workers, seed=seed, timeout=timeout, mask=mask, border=border,
        stop_below=stop_below, crop=crop, probes=probes, max_pixels=max_pixels, callback=callback, files=files,
        editor=editor,
    )  # fmt: skip
    problem, strategy = _build_problem(job)
    fidelity = _plan_fidelity(job, problem, strategy)
    folder = prepare_folder(out) if out is not None else None
    study = _open_study(job, strategy, study, storage, study_name, folder)
    with _painter(folder) as painter:  # it imports matplotlib while the search runs, for the convergence plot
        result = _search(job, problem, fidelity, strategy, study)
        return _write_result(result, problem, job.filter, folder, painter)


def _search(
    job: Job, problem: Problem, fidelity: Fidelity | None, strategy: Strategy, study: optuna.Study
) -> FitResult:
    """Stages 5-7: the search, a preview's confirmation, the intervals; the result without its output folder."""
    run = _start_search(job, problem, fidelity, strategy, study)
    if run.stopped == "interrupted":  # Ctrl-C in the crop phase: its best so far is the answer
        return _result(run, job)
    with Evaluator(run.problem, job.workers) as evaluator:  # one pool for the search and the probes after it
        run.execute(evaluator)  # the search
        _confirm(run, problem, fidelity)
        result = _result(run, job)
        if evaluator.problem is problem:
            result = _measure_intervals(result, run, problem, strategy, evaluator, job.probes)
    if evaluator.problem is not problem:  # a preview's answer: the probes are made at full resolution
        with Evaluator(problem, job.workers) as evaluator:
            result = _measure_intervals(result, run, problem, strategy, evaluator, job.probes)
    return result


def _build_problem(job: Job) -> tuple[Problem, Strategy]:
    """Stage 2: the filter prepared for the images, and the strategy that will search it (a look's from the look)."""
    problem = _problem(job.filter, job.space, job.images, job.metric, job.mask, job.workers)
    strategy = get_strategy(job.strategy, job.space, seed=job.seed, budget=job.budget, workers=job.workers)
    if isinstance(job.filter, Look):
        strategy.hint(_edit_start(job.filter.params, job.space))
    elif isinstance(job.filter, EditorFilter) and _inside(job.filter.neutral(), job.space):
        strategy.hint(_edit_start(job.filter.neutral(), job.space))
    return problem, strategy


def _plan_fidelity(job: Job, problem: Problem, strategy: Strategy) -> Fidelity | None:
    """Stage 3: a preview (a per-pixel filter) or a crop (a large photo, a spatial filter), or neither."""
    return plan_fidelity(
        problem, crop=job.crop, may_crop=may_crop(job.filter, job.strategy), scans=strategy.scans_first,
        budget=job.budget,
    )  # fmt: skip


def _open_study(
    job: Job,
    strategy: Strategy,
    study: optuna.Study | None,
    storage: str | None,
    name: str | None,
    folder: Path | None,
) -> optuna.Study:
    """Stage 4: the study the evaluations go to, which must hold this problem if it holds any."""
    given = study is not None
    if study is None:
        study = _create_study(strategy, storage, name, folder)
    wanted = definition(
        filter=job.filter, space=job.space, metric=job.metric.name, border=job.border, mask=job.mask,
        images=job.images, strategy=strategy.name, budget=job.budget, seed=job.seed, timeout=job.timeout,
        stop_below=job.stop_below,
    )  # fmt: skip
    where = str(folder) if storage is None and folder is not None else f"study {study.study_name!r}"
    check_definition(study, wanted, where, strict=not given)
    return study


def _start_search(
    job: Job, problem: Problem, fidelity: Fidelity | None, strategy: Strategy, study: optuna.Study
) -> Run:
    """Stage 5: the search's loop: on a preview, or on the whole photo after a search of a crop (from its end)."""
    if fidelity is not None and fidelity.hand_over == "confirm":
        budget = fidelity.budget(job.budget)
        return Run(fidelity.problem, strategy, study, budget, job.workers, job.callback, job.stop_below, fidelity.label)
    run = Run(problem, strategy, study, job.budget, job.workers, job.callback, job.stop_below)
    if fidelity is not None:
        run.follow(_search_first(job, fidelity, study))
    return run


def _search_first(job: Job, fidelity: Fidelity, study: optuna.Study) -> Run:
    """The search of a crop, with a strategy of its own whose findings the whole photo's search takes over."""
    budget = fidelity.budget(job.budget)
    assert isinstance(job.strategy, str)  # may_crop: only a strategy given by name gets a crop phase
    strategy = get_strategy(job.strategy, job.space, seed=job.seed, budget=budget, workers=job.workers)
    strategy.scan_only = fidelity.scan_only
    problem = fidelity.problem
    run = Run(problem, strategy, study, budget, job.workers, job.callback, job.stop_below, fidelity.label)
    with Evaluator(problem, job.workers) as evaluator:
        run.execute(evaluator)
    return run


def _confirm(run: Run, problem: Problem, fidelity: Fidelity | None) -> None:
    """Stage 6: a preview's best candidates evaluated at full resolution; the best of these is the answer."""
    if fidelity is not None and fidelity.hand_over == "confirm":
        candidates = confirm_candidates(run.records, problem.metric.direction, fidelity.confirmations)
        run.confirm(problem, candidates)


def _measure_intervals(
    result: FitResult, run: Run, problem: Problem, strategy: Strategy, evaluator: Evaluator, probes: int
) -> FitResult:
    """Stage 7: each parameter's interval and flags, probed around the answer (not after Ctrl-C)."""
    if run.stopped == "interrupted":
        return result
    return refine(result, problem, strategy, evaluator, budget=_probe_count(result.budget, probes))


def _write_result(
    result: FitResult, problem: Problem, filter: Filter, folder: Path | None, painter: Painter | None
) -> FitResult:
    """Stage 8: flags for values at the edges of their ranges, the renders counted, the output folder written."""
    result = _with_edge_flags(result, problem, filter)
    result = replace(result, renders=result.renders + len(result.probes) + (folder is not None))  # + best.png
    if folder is not None:
        write_outputs(result, problem, folder, painter=painter)
    return result


@contextlib.contextmanager
def _painter(folder: Path | None) -> Iterator[Painter | None]:
    """A :class:`~filterfit.plots.png.Painter` when there is an output folder to draw for, stopped at the end."""
    if folder is None:
        yield None
        return
    painter = Painter()
    try:
        yield painter
    finally:
        painter.close()


def _probe_count(budget: int, probes: int) -> int:
    """The most probes after a search of ``budget`` evaluations: ``probes``, and at most half the budget.

    So a run renders at most 1.5 x ``budget`` times (``--budget 5``: 5
    evaluations and 2 probes; the default 200 and 80 as they are), and once
    more for best.png with ``out``. Half, not less: three parameters' intervals
    and their trade-offs take about 60 probes.
    """
    return min(probes, budget // PROBE_SHARE_DIVISOR)


def _result(run: Run, job: Job) -> FitResult:
    """The run's result with the facts about its images, tools and look, and the budget it was given."""
    result = run.result(job.seed, job.filter.describe(), lossy=any(t.lossy for _, t in job.images))
    result = replace(result, budget=job.budget, sources=_paths(s for s, _ in job.images))
    result = replace(result, targets=_paths(t for _, t in job.images), versions=tool_versions())
    result = replace(result, reference=job.reading)
    if isinstance(job.filter, EditorFilter):
        result = replace(result, editor=job.filter.to_dict())
    if isinstance(job.filter, CommandFilter) and job.filter.files:
        result = replace(result, files={settings.name: settings.to_dict() for settings in job.filter.files})
    if isinstance(job.filter, Look):
        result = replace(result, look=job.filter.with_params(result.best_params).to_dict())
    return result


def _with_edge_flags(result: FitResult, problem: Problem, filter: Filter) -> FitResult:
    """The result with a flag for each best value at an end of its range (see :mod:`filterfit.edges`).

    A look's own ranges are its adjustments' limits, and an end where an adjustment is neutral is no limit.
    """
    metric, space = problem.metric, problem.space
    neutral = None
    if isinstance(filter, Look):
        own = {param.name: (param.low, param.high) for param in filter.space()}
        neutral = {
            name: value
            for name, value in Look(filter.adjustments).params.items()
            if name in space.names and (space[name].low, space[name].high) == own[name]
        }
    exact = metric.loss(result.best_error) <= metric.stop_loss
    return replace(result, flags=edge_flags(space, result.best_params, result.flags, exact=exact, neutral=neutral))


def _problem(
    filter: Filter,
    space: Space,
    pairs: list[tuple[Image, Image]],
    metric: Metric,
    mask: np.ndarray | None,
    workers: int,
) -> Problem:
    prepared = filter.prepare([s for s, _ in pairs], pairs[0][1], single_thread=workers > 1)
    return Problem(prepared, space, pairs, metric, mask=mask)


def _edit_start(values: Mapping[str, Any], space: Space) -> list[dict[str, Any]]:
    """The edit's values as given (a look's, neutral unless the caller set them; an editor's sliders at
    neutral), within the space, as the first start of the search.

    A photo's edit is a departure from the unedited photo, and least squares from there reaches
    the edit; from the best point of a scan of 12 dimensions it ended in a far-off local minimum
    on 2 of the 10 paired looks of the benchmark (37 and 46 dB instead of 59). An editor's 8
    sliders went the same way (one seed traced): the scans spent 103 of 150 evaluations reaching a
    point up to half the ranges away from a hidden preset, and least squares had 47 left.
    """
    start = {}
    for param in space:
        value = values.get(param.name)
        if value is None or not param.numeric:
            return []  # a space of the caller's that is not the look's: nothing to start from
        start[param.name] = param.snap(min(max(value, param.low), param.high))
    return [start]


def _inside(values: Mapping[str, Any], space: Space) -> bool:
    """Every value strictly inside its range.

    An editor's neutral on a range's edge (darktable's velvia strength 0 in 0:60) is where the
    slider starts to act: least squares from there measured flat renders, took the slider for one
    that acts in steps and ended 200 evaluations at rmse 8e-4, where from the scan's start it was
    exact in 73 and 75 (two runs).
    """
    return all(param.low < values.get(param.name, param.low) < param.high for param in space if param.numeric)


def _paths(images: Iterable[Image]) -> list[str | None]:
    return [None if image.path is None else str(Path(image.path).resolve()) for image in images]


def _create_study(strategy: Strategy, storage: str | None, name: str | None, folder: Path | None) -> optuna.Study:
    """The run's study: in ``storage``, else in ``folder``'s journal (resumed when it exists), else in memory."""
    if storage is None and folder is not None:
        backend = journal_storage(folder / "study.journal")
    else:
        backend = open_storage(storage)
    sampler = strategy.sampler()  # outside the try: a missing extra is not a storage problem
    study = open_study(backend, name, sampler, create=True)
    if study.get_trials(deepcopy=False):
        sampler.reseed_rng()  # a resumed sampler must not replay its first proposals (QMC keeps its sequence)
    return study
