"""The evaluator's processes: one BLAS thread while programs are evaluated."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from filterfit.evaluator import Evaluator
from filterfit.filters import as_filter
from filterfit.images import Image
from filterfit.metrics import get_metric
from filterfit.problem import Problem
from filterfit.space import as_space


def _blas_threads() -> int:
    return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=1)


def blas_threads_as_grey(image: np.ndarray, k: float) -> np.ndarray:
    """A 'filter' whose output tells, as its grey level, how many BLAS threads its process may use."""
    return np.full_like(image, _blas_threads() / 10)


@pytest.fixture
def problem() -> Problem:
    pixels = np.zeros((8, 8, 3), dtype=np.float32)
    pair = (Image(pixels), Image(pixels))
    return Problem(
        as_filter(blas_threads_as_grey).prepare([pair[0]], pair[1], single_thread=True),
        as_space({"k": (0, 1)}),
        [pair],
        get_metric("rmse"),
    )


@pytest.mark.skipif(not any(p["user_api"] == "blas" for p in threadpool_info()), reason="numpy has no BLAS to limit")
@pytest.mark.parametrize("workers", [1, 2])
def test_blas_runs_one_thread_while_evaluating_and_is_restored_after(problem, workers):
    # OpenBLAS threads spinning between the strategy's small products took a core from the programs evaluated
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with Evaluator(problem, workers) as evaluator:
            assert _blas_threads() == 1
            evaluation = evaluator.submit({"k": 0.5}).result()
        assert evaluation.value == pytest.approx(0.1)  # the worker (a process or a thread) had one thread too
        assert _blas_threads() == before
