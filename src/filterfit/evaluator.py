"""Run evaluations in parallel worker processes that hold the decoded images.

Each worker receives the :class:`~filterfit.problem.Problem` once, when it
starts, so images are decoded and encoded for pipes once per worker and each
task carries only a parameter dict.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .problem import Evaluation, Problem

__all__ = ["Evaluator", "default_workers"]

_PROBLEM: Problem | None = None


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _start_worker(problem: Problem) -> None:
    global _PROBLEM
    _PROBLEM = problem


def _evaluate(params: dict[str, Any], residuals: bool) -> Evaluation:
    assert _PROBLEM is not None, "worker started without a problem"
    return _PROBLEM.evaluate(params, residuals=residuals)


class Evaluator:
    """Submit evaluations of one problem to ``workers`` processes.

    With one worker, evaluations run in a thread of this process (no copy of
    the images, and a Python function filter need not be picklable).
    """

    def __init__(self, problem: Problem, workers: int) -> None:
        self.problem = problem
        self.workers = workers
        self._executor: Executor
        if workers <= 1:
            self._executor = ThreadPoolExecutor(max_workers=1)
        else:
            # fork: workers inherit the decoded images instead of unpickling them,
            # and Python function filters need not be importable.
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            context = multiprocessing.get_context(method)
            self._executor = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_start_worker, initargs=(problem,)
            )
            self._executor.submit(os.getpid).result()  # start every worker now, before any other thread

    def submit(self, params: dict[str, Any], *, residuals: bool = False) -> Future[Evaluation]:
        if isinstance(self._executor, ThreadPoolExecutor):
            return self._executor.submit(self.problem.evaluate, params, residuals=residuals)
        return self._executor.submit(_evaluate, params, residuals)

    def close(self, *, cancel: bool = False) -> None:
        self._executor.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(cancel=exc_info[0] is not None)
