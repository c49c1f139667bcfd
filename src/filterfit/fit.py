"""``fit``: normalise the inputs, then ask -> evaluate -> tell until the budget is spent."""

from __future__ import annotations

import math
import secrets
import statistics
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, as_completed, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from .edges import edge_flags
from .errors import AllEvaluationsFailedError, FilterFitError, ImageError, InterruptedBeforeAnswerError, MetricError
from .evaluator import Evaluator, default_workers
from .fidelity import plan_crop
from .filters import as_filter
from .images import MAX_PIXELS, Image, load_image, to_float
from .journal import journal_storage
from .look import Look, as_look
from .look.distribution import fit_to
from .look.fidelity import CONFIRMATIONS, confirm_candidates, preview_problem
from .metrics import get_metric, make_mask
from .outputs import prepare_folder, write_outputs
from .problem import Evaluation, Problem, check_pair
from .report import tool_versions
from .result import FitResult, TrialRecord, intervals
from .space import as_space
from .strategies import get_strategy
from .study import (
    check_definition,
    counts,
    definition,
    end_run,
    evaluated,
    evaluation_of,
    open_storage,
    open_study,
    stale_trials,
    start_run,
)
from .uncertainty import PROBE_BUDGET, refine

PROBE_SHARE_DIVISOR = 2  # the probes after a search take at most half its budget more

if TYPE_CHECKING:
    from .filters import Filter
    from .metrics import Metric
    from .space import Space
    from .strategies import Strategy

__all__ = ["Progress", "fit", "load_pairs"]

ImageLike = str | Path | Image | np.ndarray


@dataclass(frozen=True)
class Progress:
    """What a progress display needs after each evaluation."""

    evaluations: int
    budget: int
    failed: int
    best_error: float | None
    best_params: dict[str, Any] | None
    elapsed_s: float


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
        a chosen one (see :class:`filterfit.Look`).
    reference : path, Image or array, optional
        A photo of another scene whose look ``source`` should take (instead of
        a target); the metric is then ``distribution`` unless given.
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
        :mod:`filterfit.fidelity`). Default: for one pair of photos of 1.5
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

    Examples
    --------
    >>> result = fit("convert {input} -blur {radius}x{sigma} {output}",
    ...              ["radius=0:100", "sigma=0:100"], "photo.png", "blurred.png")  # doctest: +SKIP
    >>> result.best_params  # doctest: +SKIP
    {'radius': 27.2, 'sigma': 20.0}
    """
    _check_counts(budget, workers, timeout, seed, stop_below)
    filter, space = _filter_and_space(filter, space, as_look(look))
    space = as_space(space)
    metric = get_metric(metric if metric is not None else "distribution" if reference is not None else "rmse")
    workers = workers or default_workers()
    seed = secrets.randbelow(2**31) if seed is None else seed
    filter = as_filter(filter, timeout=timeout)
    filter.check(space)
    if reference is not None and (target is not None or pairs is not None):
        raise ImageError("give either a target (or pairs) or a reference photo, not both")
    single = [(source, reference if reference is not None else target)]
    images = load_pairs(pairs if pairs is not None else single, references=reference is not None, max_pixels=max_pixels)
    mask = make_mask(images[0][1].pixels.shape, border=border, mask=mask)
    if mask is not None:
        _check_same_size(images)
    # a strategy object cannot be cloned for the crop: only one given by name gets a crop phase
    # (nor a look: its preview is the cheap first phase, and a vignette depends on the whole frame)
    wants_crop = isinstance(strategy, str) and not isinstance(filter, Look)
    if crop and not wants_crop:
        why = "a look searches a preview of the photos instead"
        if not isinstance(filter, Look):
            why = "a strategy object cannot be copied for it: give the strategy by name"
        raise FilterFitError(f"cannot search on a crop: {why}; leave out --crop")
    problem = _problem(filter, space, images, metric, mask, workers)
    strategy_name, strategy = strategy, get_strategy(strategy, space, seed=seed, budget=budget, workers=workers)
    plan = plan_crop(images, enabled=crop, masked=mask is not None, scans=strategy.scans_first) if wants_crop else None
    if isinstance(filter, Look):
        strategy.hint(_look_start(filter, space))
    folder = prepare_folder(out) if out is not None else None
    given = study is not None
    if study is None:
        study = _create_study(strategy, storage, study_name, folder)
    preview = preview_problem(problem)  # a look of per-pixel adjustments: search on a preview first
    reserve = min(CONFIRMATIONS, budget // 2) if preview is not None else 0  # full-resolution evaluations
    searched = preview if preview is not None and reserve else problem
    wanted = definition(
        filter=filter, space=space, metric=metric.name, border=border, mask=mask, images=images,
        strategy=strategy.name, budget=budget, seed=seed, timeout=timeout, stop_below=stop_below,
    )  # fmt: skip
    where = str(folder) if storage is None and folder is not None else f"study {study.study_name!r}"
    check_definition(study, wanted, where, strict=not given)
    run = _Run(searched, strategy, study, budget - reserve, workers, callback, stop_below)
    if plan is not None:
        crop_mask = make_mask(plan.pairs[0][1].pixels.shape, border=plan.border)
        crop_problem = _problem(filter, space, plan.pairs, metric, crop_mask, workers)
        crop_budget = plan.budget(budget)
        crop_strategy = get_strategy(strategy_name, space, seed=seed, budget=crop_budget, workers=workers)
        crop_strategy.scan_only = plan.scan_only
        crop_run = _Run(crop_problem, crop_strategy, study, crop_budget, workers, callback, stop_below, plan.geometry)
        with Evaluator(crop_problem, workers) as crop_evaluator:
            crop_run.execute(crop_evaluator)
        run.follow(crop_run)
    if run.stopped == "interrupted":  # Ctrl-C in the crop phase: its best so far is the answer
        result = _result(run, seed, filter, images, budget)
    else:
        with Evaluator(searched, workers) as evaluator:  # one pool of workers for the search and the probes after it
            run.execute(evaluator)
            if reserve:
                run.confirm(problem, confirm_candidates(run.records, metric.direction, reserve))
            result = _result(run, seed, filter, images, budget)
            probe_count = _probe_count(budget, probes)
            if run.stopped != "interrupted" and searched is problem:
                result = refine(result, problem, strategy, evaluator, budget=probe_count)
        if run.stopped != "interrupted" and searched is not problem:
            with Evaluator(problem, workers) as evaluator:  # probes are made at full resolution
                result = refine(result, problem, strategy, evaluator, budget=probe_count)
    result = _with_edge_flags(result, problem, filter)
    result = replace(result, renders=result.renders + len(result.probes) + (folder is not None))  # + best.png
    if folder is not None:
        write_outputs(result, problem, folder)
    return result


def _probe_count(budget: int, probes: int) -> int:
    """The most probes after a search of ``budget`` evaluations: ``probes``, and at most half the budget.

    So a run renders at most 1.5 x ``budget`` times (``--budget 5``: 5
    evaluations and 2 probes; the default 200 and 80 as they are), and once
    more for best.png with ``out``. Half, not less: three parameters' intervals
    and their trade-offs take about 60 probes.
    """
    return min(probes, budget // PROBE_SHARE_DIVISOR)


def _result(run: _Run, seed: int, filter: Filter, images: list[tuple[Image, Image]], budget: int) -> FitResult:
    """The run's result with the facts about its images, tools and look, and the budget it was given."""
    result = replace(run.result(seed, filter.describe(), lossy=any(t.lossy for _, t in images)), budget=budget)
    result = replace(result, sources=_paths(s for s, _ in images), targets=_paths(t for _, t in images))
    result = replace(result, versions=tool_versions())
    if isinstance(filter, Look):
        result = replace(result, look=filter.with_params(result.best_params).to_dict())
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


def _look_start(look: Look, space: Space) -> list[dict[str, Any]]:
    """The look as given (neutral unless the caller set values), as the first start of the search.

    A photo's edit is a departure from the unedited photo, and least squares from there reaches
    the edit; from the best point of a scan of 12 dimensions it ended in a far-off local minimum
    on 2 of the 10 paired looks of the benchmark (37 and 46 dB instead of 59).
    """
    start = {}
    for param in space:
        value = look.params.get(param.name)
        if value is None or not param.numeric:
            return []  # a space of the caller's that is not the look's: nothing to start from
        start[param.name] = param.snap(min(max(value, param.low), param.high))
    return [start]


def _filter_and_space(filter: Any, space: Any, look: Look | None) -> tuple[Any, Any]:
    """A look stands for the filter, and its space for the search space unless one is given."""
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


def _check_same_size(images: list[tuple[Image, Image]]) -> None:
    """One mask is shared by every pair, so a mask or border needs pairs of one size."""
    first = images[0][1]
    for number, (_, target) in enumerate(images[1:], start=2):
        if target.size_text != first.size_text:
            raise MetricError(
                f"a mask or border needs every pair to be the same size, but pair 1 is {first.size_text} "
                f"and pair {number} is {target.size_text}: give pairs of one size, or no mask and no border"
            )


def load_pairs(
    pairs: Sequence[tuple[ImageLike | None, ImageLike | None]],
    *,
    references: bool = False,
    max_pixels: int | None = MAX_PIXELS,
) -> list[tuple[Image, Image]]:
    """Load each (source, target) and check that their sizes match (references are resampled to match)."""
    if not pairs:
        raise ImageError("give a source and a target image")
    loaded = []
    for source, target in pairs:
        if source is None or target is None:
            raise ImageError("give both a source and a target image")
        pair = (_as_image(source, max_pixels), _as_image(target, max_pixels))
        if references:
            pair = (pair[0], fit_to(pair[1], pair[0]))
        check_pair(*pair)
        loaded.append(pair)
    return loaded


def _as_image(image: ImageLike, max_pixels: int | None = MAX_PIXELS) -> Image:
    if isinstance(image, Image):
        return image
    if isinstance(image, np.ndarray):
        depth = 16 if image.dtype == np.uint16 else 8
        return Image(to_float(image), bit_depth=depth, format="png")
    return load_image(image, max_pixels=max_pixels)


def _scale(problem: Problem) -> float:
    """1 at full resolution; 0.5 for a preview of every other pixel."""
    return 1.0 / getattr(problem.pairs[0][0], "stride", 1)


class _Run:
    """One fit's loop: bounded evaluations in flight, every result told to the study.

    The study is the record and the shared state: the budget counts its
    evaluations (this run's, an earlier run's in the same study, other
    workers'), a trial whose process died is evaluated again into the same
    trial, and a strategy that asks again for parameters the study already
    evaluated (a resumed ``auto`` replays its searches) gets the recorded answer.
    """

    def __init__(
        self,
        problem: Problem,
        strategy: Strategy,
        study: optuna.Study,
        budget: int,
        workers: int,
        callback: Callable[[Progress], None] | None,
        stop_below: float | None = None,
        crop: str | None = None,
    ) -> None:
        self.problem, self.strategy, self.study, self.crop = problem, strategy, study, crop
        self.budget, self.workers, self.callback = budget, workers, callback
        self.stop_loss = problem.metric.stop_loss if stop_below is None else problem.metric.loss(stop_below)
        self.renders = 0  # every render this run made: its evaluations, and those made again for a replay
        self.replayed = 0  # renders made again because a resumed strategy needs residuals the study does not keep
        self.records: list[TrialRecord] = []
        self.done: dict[tuple[Any, ...], optuna.trial.FrozenTrial] = {}  # evaluated parameters -> their trial
        self.best: Evaluation | None = None
        self.stopped = "budget"
        self.started = time.perf_counter()
        self.elapsed = 0.0
        self.scale = _scale(problem)
        self.orphans: list[optuna.trial.FrozenTrial] = []
        self.interrupted_crop: str | None = None  # set when Ctrl-C stopped the crop phase this run follows
        self._absorb()
        storage = study._storage  # no public accessor; RDB storages beat (see study.open_storage)
        interval = storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
        self.beat_every = interval / 2 if interval else None

    def follow(self, crop: _Run) -> None:
        """Go on from a search of a crop: its evaluations count, its answer is the first to try here.

        A scan-only search's answer is where its local search would have started, not its best.
        """
        self.records, self.started = crop.records + self.records, crop.started
        self.renders, self.replayed = self.renders + crop.renders, self.replayed + crop.replayed
        start = crop.strategy.start or (crop.best.params if crop.best else None)
        self.strategy.hint([start] if start else [], learnt_from=crop.strategy)
        if crop.stopped == "interrupted":  # no full-resolution phase: the crop's best is the answer so far
            self.stopped, self.best, self.elapsed = "interrupted", crop.best, crop.elapsed
            self.interrupted_crop = crop.crop

    def execute(self, evaluator: Evaluator) -> None:
        """Ask, evaluate and tell until the budget is spent (``evaluator``: the caller's, it probes after)."""
        self.owner = start_run()
        self.strategy.known = self._known
        self.pending: dict[Future[Evaluation], tuple[optuna.Trial, bool]] = {}  # future -> (trial, to tell the study)
        try:
            try:
                self._loop(evaluator)
            except KeyboardInterrupt:
                self.stopped = "interrupted"  # trials in flight stay RUNNING: a resumed run evaluates them
                evaluator.abandon()
        finally:
            end_run(self.owner)
            self.strategy.known = None
            self.elapsed = time.perf_counter() - self.started
        self._absorb()  # other workers' evaluations of a shared study

    def _loop(self, evaluator: Evaluator) -> None:
        for stale in self._stale_trials():
            self._submit(evaluator, stale)
        while True:
            while self.stopped == "budget" and len(self.pending) < self.workers and self._room():
                trial = self._orphan() or self._ask()
                if trial is None:
                    break
                if trial.number in self._done_numbers():
                    self._replay(evaluator, trial)
                else:
                    self._submit(evaluator, trial)
            if not self.pending:
                if self.stopped == "budget" and self._room():
                    self.stopped = "exhausted"
                break
            done, _ = wait(self.pending, timeout=self.beat_every, return_when=FIRST_COMPLETED)
            for future in done:
                trial, fresh = self.pending.pop(future)
                if fresh:
                    self._record(trial, future.result())
                else:
                    self.strategy.tell(trial, future.result())
            self._beat()

    def _room(self) -> bool:
        """True while the study's evaluations (made or in flight, by any process) leave budget; notices an exact one."""
        spent, best, self.orphans = counts(self.study, crop=self.crop, scale=self.scale)
        if best is not None and best <= self.stop_loss:
            self.stopped = "exact"
            return False
        return spent < self.budget

    def _orphan(self) -> optuna.Trial | None:
        """A trial whose process died while the run goes on (another worker of this host), to evaluate again."""
        running = {trial.number for trial, _ in self.pending.values()}
        for frozen in self.orphans:
            if frozen.number not in running and (trial := self._revive(frozen)) is not None:
                return trial
        return None

    def _ask(self) -> optuna.Trial | None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Heartbeat of storage")  # we beat ourselves (_beat)
            return self.strategy.ask(self.study)

    def _submit(self, evaluator: Evaluator, trial: optuna.Trial) -> None:
        if any(running.number == trial.number for running, _ in self.pending.values()):
            return  # a stale trial being evaluated again, asked for by a replaying strategy: it will hear back
        trial.set_user_attr("owner", self.owner)
        future = evaluator.submit(trial.params, residuals=self.strategy.wants_residuals)
        self.pending[future] = (trial, True)
        self.renders += 1
        self._beat()

    def _replay(self, evaluator: Evaluator, trial: optuna.Trial) -> None:
        """Give the strategy the study's evaluation of a trial it asked for again.

        The study keeps each evaluation's error, not its per-pixel residuals
        (nothing is written per evaluation beyond the study's record), so a
        strategy that wants residuals gets the parameters rendered again; the
        study is not told twice, and ``replayed`` counts these renders.
        """
        evaluation = evaluation_of(self.done[self._key(trial.params)])
        if self.strategy.wants_residuals and evaluation.ok:
            self.pending[evaluator.submit(trial.params, residuals=True)] = (trial, False)
            self.renders += 1
            self.replayed += 1
        else:
            self.strategy.tell(trial, evaluation)

    def _known(self, study: optuna.Study, params: dict[str, Any]) -> optuna.Trial | None:
        """The study's trial for exactly these parameters: evaluated, or stale and being evaluated again."""
        frozen = self.done.get(self._key(params))
        if frozen is None:
            return next((t for t, _ in self.pending.values() if self._key(t.params) == self._key(params)), None)
        return optuna.Trial(study, frozen._trial_id)  # no public constructor from a number

    def _stale_trials(self) -> list[optuna.Trial]:
        return [trial for t in stale_trials(self.study) if (trial := self._revive(t)) is not None]

    def _revive(self, frozen: optuna.trial.FrozenTrial) -> optuna.Trial | None:
        """A stale trial to evaluate again; one interrupted before it had all its parameters is abandoned."""
        if set(frozen.params) == set(self.problem.space.names):
            return optuna.Trial(self.study, frozen._trial_id)
        try:
            self.study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)  # no reason: not an evaluation
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another process got there first
        return None

    def _beat(self) -> None:
        if self.beat_every is not None:
            for trial, _ in self.pending.values():
                self.study._storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]

    def _done_numbers(self) -> set[int]:
        return {t.number for t in self.done.values()}

    def _key(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(params[name] for name in self.problem.space.names)

    def _same_pixels(self, trial: optuna.trial.FrozenTrial) -> bool:
        """True for a trial scored on the pixels this run scores (not a crop's or a preview's, for another run)."""
        return trial.user_attrs.get("crop") == self.crop and trial.user_attrs.get("scale", 1.0) == self.scale

    def _absorb(self) -> None:
        """Take in the study's evaluations this run has not seen (an earlier run's, other workers')."""
        seen = {r.number for r in self.records}
        for trial in self.study.get_trials(deepcopy=False):
            if trial.number in seen or not evaluated(trial) or not self._same_pixels(trial):
                continue
            self.done.setdefault(self._key(trial.params), trial)
            self._note(evaluation_of(trial), trial.number)

    def confirm(self, problem: Problem, candidates: list[dict[str, Any]]) -> None:
        """Evaluate preview candidates at full resolution; the best of these is the answer."""
        self.problem, self.best, self.scale = problem, None, 1.0
        self.budget += len(candidates)
        self.renders += len(candidates)
        with Evaluator(problem, min(self.workers, len(candidates))) as evaluator:
            pending = {evaluator.submit(p): self.strategy.ask_fixed(self.study, p) for p in candidates}
            for future in as_completed(pending):
                self._record(pending[future], future.result())
        self.elapsed = time.perf_counter() - self.started

    def _record(self, trial: optuna.Trial, evaluation: Evaluation) -> None:
        """Tell the study (each attribute is a record of its own in a journal: only those that say something)."""
        try:
            trial.set_user_attr("seconds", round(evaluation.seconds, 4))
            if self.scale != 1.0:  # readers take a missing scale as 1: full resolution
                trial.set_user_attr("scale", self.scale)
            if self.crop is not None:
                trial.set_user_attr("crop", self.crop)
            if evaluation.ok:
                if evaluation.value != evaluation.loss:  # a metric to maximise; readers take the value otherwise
                    trial.set_user_attr("error", evaluation.value)
                trial.set_user_attr("hash", evaluation.output_hash)
                self.study.tell(trial, evaluation.loss)
            else:
                trial.set_user_attr("reason", evaluation.reason)
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:  # another process finished it: the study has its answer
            self.strategy.tell(trial, evaluation)  # (and this run's end takes in its record)
            return
        self.done.setdefault(self._key(evaluation.params), self.study._storage.get_trial(trial._trial_id))
        self.strategy.tell(trial, evaluation)
        self._note(evaluation, trial.number)
        if self.callback is not None:
            self.callback(self._progress())

    def _note(self, evaluation: Evaluation, number: int) -> None:
        finished = round(time.perf_counter() - self.started, 4)
        self.records.append(TrialRecord.of(number, evaluation, crop=self.crop, scale=self.scale, finished_s=finished))
        if evaluation.ok and (self.best is None or evaluation.loss < self.best.loss):  # type: ignore[operator]
            self.best = evaluation
            if evaluation.loss <= self.stop_loss:  # type: ignore[operator]
                self.stopped = "exact"

    def _progress(self) -> Progress:
        return Progress(
            evaluations=len(self.records),
            budget=self.budget,
            failed=sum(r.state == "fail" for r in self.records),
            best_error=None if self.best is None else self.best.value,
            best_params=None if self.best is None else self.best.params,
            elapsed_s=time.perf_counter() - self.started,
        )

    def _uncertainty(self, history: tuple[TrialRecord, ...]) -> dict[str, list[float]]:
        """Evaluated ties with the best, widened by what the strategy knows gives the same render."""
        assert self.best is not None and self.best.value is not None
        metric, space = self.problem.metric, self.problem.space
        result = intervals(history, space, self.best.value, metric.direction)
        for name, (low, high) in self.strategy.intervals(self.best.params).items():
            known = result.get(name, [low, high])
            result[name] = [min(known[0], low), max(known[1], high)]
        return result

    def result(self, seed: int, description: str, *, lossy: bool) -> FitResult:
        if self.best is None or self.best.value is None:
            reasons = list(dict.fromkeys(r.reason for r in self.records if r.reason))[:3]
            if self.stopped == "interrupted" and not reasons:
                raise InterruptedBeforeAnswerError("interrupted before any evaluation finished: there is no answer yet")
            raise AllEvaluationsFailedError(
                f"all {len(self.records)} evaluations failed; first reasons: " + " | ".join(map(str, reasons))
            )
        metric, space = self.problem.metric, self.problem.space
        warnings = []
        if lossy:
            warnings.append(
                "the target is lossy (JPEG/WebP): compression noise keeps the error above 0 and "
                "blurs the optimum; use PNG or TIFF targets for exact answers"
            )
        if self.interrupted_crop is not None:
            warnings.append(
                f"interrupted while searching the {self.interrupted_crop} crop: the best error is measured on that "
                "crop, not on the whole image"
            )
        history = tuple(sorted(self.records, key=lambda r: r.number))
        seconds = [r.seconds for r in history if r.state == "complete" and r.crop is None]
        return FitResult(
            best_params=dict(self.best.params),
            best_error=self.best.value,
            metric=metric.name,
            evaluations=len(history),
            failed=sum(r.state == "fail" for r in history),
            elapsed_s=round(self.elapsed, 3),
            strategy=self.strategy.name,
            workers=self.workers,
            budget=self.budget,
            seed=seed,
            filter=description,
            space=space.specs(),
            uncertainty=self._uncertainty(history),
            flags=self.strategy.flags(),
            warnings=warnings,
            stopped=self.stopped,
            target_lossy=lossy,
            evaluation_s=round(statistics.median(seconds), 4) if seconds else 0.0,
            history=history,
            renders=self.renders,
            replayed=self.replayed,
        )
