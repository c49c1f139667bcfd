"""One search's loop: bounded evaluations in flight, every result told to the study, and what it found."""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, as_completed, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna

from .errors import AllEvaluationsFailedError, InterruptedBeforeAnswerError
from .evaluator import Evaluator
from .fidelity import describe, fidelity_of
from .problem import Evaluation, Problem
from .result import FitResult, TrialRecord, intervals
from .study import Tally, end_run, evaluated, evaluation_of, stale_trials, start_run

if TYPE_CHECKING:
    from .strategies import Strategy

__all__ = ["Progress", "Run"]


@dataclass(frozen=True)
class Progress:
    """What a progress display needs after each evaluation."""

    evaluations: int
    budget: int
    failed: int
    best_error: float | None
    best_params: dict[str, Any] | None
    elapsed_s: float


class Run:
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
        fidelity: str | None = None,
    ) -> None:
        self.problem, self.strategy, self.study = problem, strategy, study
        self.fidelity = fidelity  # the label of the reduced pixels it scores (filterfit.fidelity); None: the whole
        self._tallies: dict[str | None, Tally] = {}  # the study's counts, one a fidelity this run scores at
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
        self.orphans: list[optuna.trial.FrozenTrial] = []
        self.interrupted_first: str | None = None  # the fidelity of the search this run follows, if Ctrl-C stopped it
        self.interrupted_preview = False  # set when Ctrl-C came before any preview candidate was confirmed
        self._absorb()
        storage = study._storage  # no public accessor; RDB storages beat (see study.open_storage)
        interval = storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
        self.beat_every = interval / 2 if interval else None

    def follow(self, first: Run) -> None:
        """Go on from a search of a crop: its evaluations count, its answer is the first to try here.

        A scan-only search's answer is where its local search would have started, not its best.
        """
        self.records, self.started = first.records + self.records, first.started
        self.renders, self.replayed = self.renders + first.renders, self.replayed + first.replayed
        start = first.strategy.start or (first.best.params if first.best else None)
        self.strategy.hint([start] if start else [], learnt_from=first.strategy)
        if first.stopped == "interrupted":  # no full-resolution phase: the crop's best is the answer so far
            self.stopped, self.best, self.elapsed = "interrupted", first.best, first.elapsed
            self.interrupted_first = first.fidelity

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
        tally = self._tallies.setdefault(self.fidelity, Tally(self.fidelity))
        spent, best, self.orphans = tally.update(self.study)
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
        return fidelity_of(trial.user_attrs) == self.fidelity

    def _absorb(self) -> None:
        """Take in the study's evaluations this run has not seen (an earlier run's, other workers')."""
        seen = {r.number for r in self.records}
        for trial in self.study.get_trials(deepcopy=False):
            if trial.number in seen or not evaluated(trial) or not self._same_pixels(trial):
                continue
            self.done.setdefault(self._key(trial.params), trial)
            self._note(evaluation_of(trial), trial.number)

    def confirm(self, problem: Problem, candidates: list[dict[str, Any]]) -> None:
        """Evaluate preview candidates at full resolution; the best of these is the answer.

        Ctrl-C here stops with the best confirmed so far, or, before any was, the preview's best (and says so).
        """
        preview_best, preview_fidelity = self.best, self.fidelity
        self.problem, self.best, self.fidelity = problem, None, None
        self.budget += len(candidates)
        self.renders += len(candidates)
        with Evaluator(problem, min(self.workers, len(candidates))) as evaluator:
            pending = {evaluator.submit(p): self.strategy.ask_fixed(self.study, p) for p in candidates}
            try:
                for future in as_completed(pending):
                    self._record(pending[future], future.result())
            except KeyboardInterrupt:  # the candidates not confirmed stay RUNNING: a resumed run evaluates them
                self.stopped = "interrupted"
                evaluator.abandon()
                if self.best is None:
                    self.best, self.fidelity, self.interrupted_preview = preview_best, preview_fidelity, True
        self.elapsed = time.perf_counter() - self.started

    def _record(self, trial: optuna.Trial, evaluation: Evaluation) -> None:
        """Tell the study (each attribute is a record of its own in a journal: only those that say something)."""
        try:
            trial.set_user_attr("seconds", round(evaluation.seconds, 4))
            if self.fidelity is not None:  # readers take a missing fidelity as the whole image
                trial.set_user_attr("fidelity", self.fidelity)
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
        self.records.append(TrialRecord.of(number, evaluation, fidelity=self.fidelity, finished_s=finished))
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
        if self.interrupted_first is not None:
            warnings.append(
                f"interrupted while searching {describe(self.interrupted_first)}: the best error is measured on "
                "it, not on the whole image"
            )
        if self.interrupted_preview:
            warnings.append(
                "interrupted while confirming the preview's best candidates: the best error is measured on the "
                "preview (every few pixels), not on the whole image"
            )
        history = tuple(sorted(self.records, key=lambda r: r.number))
        # the search's evaluations: a preview's are its own, a crop's those of a search before it
        seconds = [r.seconds for r in history if r.state == "complete" and not str(r.fidelity).startswith("crop ")]
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
