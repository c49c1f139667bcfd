"""Run evaluations in parallel worker processes that hold the decoded images.

Each worker receives the :class:`~filterfit.problem.Problem` once, when it
starts, so images are decoded and encoded for pipes once per worker and each
task carries only a parameter dict.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threadpoolctl import threadpool_limits

from .filters.program import kill_running_programs

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
    # Ctrl-C reaches the whole foreground process group: the run decides what happens to
    # the evaluations in flight (Evaluator.abandon), not a KeyboardInterrupt inside each worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start(problem: Problem, workers: int) -> Executor:
    if workers <= 1:
        return ThreadPoolExecutor(max_workers=1)
    # fork: workers inherit the decoded images instead of unpickling them,
    # and Python function filters need not be importable.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(problem,))
    executor.submit(os.getpid).result()  # start every worker now, before any other thread
    return executor


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
        # One BLAS thread while evaluations run, here and in the workers forked below (spawned ones, off
        # Linux, start afresh). The strategy's algebra is a Jacobian of a few columns: OpenBLAS's extra
        # threads gain nothing on it, and spinning between calls they took 0.65 s of a core from the
        # programs evaluated in a 5 s fit. One thread also sums in the same order on every machine, so a
        # seed gives the same search everywhere.
        self._blas = threadpool_limits(limits=1, user_api="blas")
        try:
            self._executor = _start(problem, workers)
        except BaseException:
            self._blas.restore_original_limits()
            raise

    def submit(self, params: dict[str, Any], *, residuals: bool = False) -> Future[Evaluation]:
        if isinstance(self._executor, ThreadPoolExecutor):
            return self._executor.submit(self.problem.evaluate, params, residuals=residuals)
        return self._executor.submit(_evaluate, params, residuals)

    def close(self, *, cancel: bool = False) -> None:
        self._executor.shutdown(wait=True, cancel_futures=cancel)
        self._blas.restore_original_limits()

    def abandon(self) -> None:
        """Stop now: kill the worker processes and the programs they run; queued evaluations are dropped.

        With one worker (a thread) its program is killed; a Python function's evaluation finishes.
        """
        if isinstance(self._executor, ProcessPoolExecutor):
            processes = list(getattr(self._executor, "_processes", {}).values())  # no public handle on them
            for process in processes:
                _kill_with_programs(process.pid)
        else:
            kill_running_programs()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(cancel=exc_info[0] is not None)


def _kill_with_programs(pid: int | None) -> None:
    """Kill one worker and the programs it started (each in a session of its own, see filters.program)."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGSTOP)  # a stopped worker cannot start another program while we look
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (ProcessLookupError, OSError):
        children = []
    for child in children:
        try:
            os.killpg(int(child), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
