"""What one benchmark run measured, and the statistics every part of the report shares.

Medians of "evaluations to success" count a run that never succeeded as infinitely many, so a
method that succeeds on 2 of 5 seeds has a median of "> budget": only that bound is known.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from measure import DiskFigure, Speedup, Writes
    from memo import MemoRun
    from out_folder import OutDisk, Overhead, Resume
    from peers import Outcome
    from problems import BenchProblem, Identifiability


@dataclass(frozen=True)
class MemoResult:
    run: MemoRun
    rmse: float  # filterfit's rmse of the memo's best answer against the PNG target (rendered losslessly)
    success: bool  # the memo's best answer by B1's rule
    writes: Writes


@dataclass
class Results:
    """Everything one benchmark run measured; run.py fills it in, ``render`` turns it into Markdown."""

    mode: str
    command: str
    plan_notes: list[str]
    problems: list[BenchProblem]
    outcomes: list[Outcome] = field(default_factory=list)
    memo: list[MemoResult] = field(default_factory=list)
    blur_s: float | None = None
    blur_repeats: int = 0
    own_bare_s: dict[int, float] = field(default_factory=dict)  # B1 auto seed -> its evaluations' bare blurs, summed
    import_s: float | None = None
    speedup: Speedup | None = None
    disk: DiskFigure | None = None
    disk_ram: DiskFigure | None = None  # the same with MAGICK_TEMPORARY_PATH on tmpfs
    accounting: Writes | None = None
    out_disk: list[OutDisk] = field(default_factory=list)  # --out at N and 2N: B1's command, the look at each size
    out_overhead: list[Overhead] = field(default_factory=list)  # B1 auto, the look fit: with and without --out
    out_cli_overhead: list[Overhead] = field(default_factory=list)  # the same as `filterfit fit` commands
    resumes: list[Resume] = field(default_factory=list)  # B1 auto, per seed: interrupted, resumed, uninterrupted
    identifiability: Identifiability | None = None
    started: float = field(default_factory=time.time)

    def runs(self, problem: str, method: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem == problem and o.method == method and o.ran]

    def methods(self, problem: str) -> list[str]:
        """The methods run on ``problem``, in the order they ran."""
        return list(dict.fromkeys(o.method for o in self.outcomes if o.problem == problem))


def median_first(runs: list[Outcome]) -> float:
    """Median evaluations to the first success; a run without one counts as infinitely many."""
    return statistics.median(o.first_success if o.first_success is not None else math.inf for o in runs)


def evaluations_text(value: float, runs: list[Outcome]) -> str:
    """A median of evaluations, or "> budget" when it is only known to exceed the budget."""
    return f"> {max(o.budget for o in runs)}" if math.isinf(value) else f"{value:g}"


def successes_text(runs: list[Outcome]) -> str:
    return f"{sum(o.success for o in runs)}/{len(runs)}"
