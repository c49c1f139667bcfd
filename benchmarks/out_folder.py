"""What ``--out`` costs (issue 16): disk writes beyond the study's record, wall time, and what a resume renders again.

With ``--out DIR`` a fit records each evaluation in its study only, Optuna's JournalStorage file
``DIR/study.journal``; at the end it writes result.json, best.png, diff.png, convergence.png and
report.html (the *final files*). Until issue 16 it also wrote each evaluation's residuals to
``DIR/residuals/N.npz`` (766 KB an evaluation on a look fit) for a resumed ``auto`` to read back;
a resumed ``auto`` now renders those evaluations again (``FitResult.replayed``).

- **Disk**: ``filterfit fit --out DIR`` as a subprocess, ``auto`` (the strategy that wanted
  residuals: the store never wrote anything for the others), 2 workers, ``--stop-below 0
  --probes 0`` (exactly N evaluations), at N and 2N evaluations, counted from write_bytes as
  ``measure.cli_disk_writes`` counts (see measure.py), DIR a fresh folder on the working disk.
  Each pair of runs is made twice: as a user runs it (the journal in DIR), and with the journal on
  tmpfs (``--storage`` a journal file in /dev/shm, everything else still in DIR), which measures
  what is written beyond the study's record without attributing pages to files. The final files'
  sizes depend on the answer (a closer fit's PNGs compress differently), so "beyond the journal"
  is also given with them taken out: what is left is what the evaluations write. Every counted
  run starts after ``os.sync()``: without it, a run that followed a burst of writeback (the fsyncs
  of a run with the journal on disk) counted up to 50 KB more than the same run at other times,
  by chance at N or at 2N; after a sync every run of a kind counts the same within a page or two.
- **Wall**: the same in-process fit with and without ``out=``, in turns (which of the two runs
  first alternates as well), so that the machine's noise falls on both; the final writing
  (``filterfit.outputs.write_outputs``) is timed inside the runs with ``out=``.
- **Wall, from the command line**: ``filterfit fit`` as a user runs it, with and without ``--out``,
  in turns: Python's start-up and imports are in both, and with ``--out`` the process that imports
  matplotlib for the convergence plot (``filterfit.plots.png.Painter``) runs alongside the search.
- **Resume**: a fit with ``out=`` interrupted by a KeyboardInterrupt from its callback after K
  evaluations, then run again on its folder: the resumed run's ``replayed`` and ``renders``, and
  whether it ends where the uninterrupted run with the same seed ends.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import looks
import measure
import numpy as np

import filterfit
from filterfit.images import load_image, save_image

if TYPE_CHECKING:
    from measure import Writes
    from problems import BenchProblem

    from filterfit import FitResult, Progress

PAGE = 4096  # write_bytes counts whole pages
JOURNAL = "study.journal"

# -- the fits ------------------------------------------------------------------


def b1_auto(b1: BenchProblem, budget: int) -> Callable[..., FitResult]:
    """B1's auto as the benchmark runs it (peers.run): 2 workers, the search alone; give it seed= and out=."""
    return functools.partial(
        filterfit.fit, b1.template, list(b1.params), b1.source, b1.target, budget=budget, workers=2, probes=0
    )


def look_pair(size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The looks benchmark's first paired look (the default set on astronaut), at ``size`` x ``size`` if given."""
    source, target, _ = looks.paired_look(looks.PHOTOS[0], np.random.default_rng(looks.PAIRED_SEED), size)
    return source, target


def look_fit(evaluations: int) -> Callable[..., FitResult]:
    """A fit of the look pair as looks.run_paired makes it (2 workers), exactly ``evaluations`` long, no probes."""
    source, target = look_pair()
    return functools.partial(
        filterfit.fit, look=True, source=source, target=target, budget=evaluations, workers=2, stop_below=0, probes=0
    )


def cli_fits(b1: BenchProblem, sizes: tuple[int, ...], folder: Path) -> list[tuple[str, str, list[str]]]:
    """``(fit, image, arguments after "filterfit fit")``: B1's command, then the look pair at each size.

    The look pair's PNG files go into ``folder`` (the scratch folder, on tmpfs like B1's photo).
    """
    height, width = load_image(b1.source).pixels.shape[:2]
    fits = [("command (B1)", f"{width}x{height}", measure.command_fit_arguments(b1))]
    for size in sizes:
        source, target = look_pair(size)
        files = [
            save_image(source, folder / f"look-{size}.png"),
            save_image(target, folder / f"look-{size}-target.png"),
        ]
        fits.append(("look", f"{size}x{size}", [str(files[0]), str(files[1]), "--look"]))
    return fits


# -- disk ----------------------------------------------------------------------


@dataclass(frozen=True)
class FolderRun:
    """One ``filterfit fit --out DIR`` subprocess: what its process tree wrote, and what it left."""

    evaluations: int  # from DIR/result.json
    writes: Writes
    journal: int  # bytes of the study's journal, wherever it was
    journal_lines: int  # its records (filterfit's journal file fsyncs at most once a second)
    final: int  # the final files in DIR, each rounded up to whole pages as write_bytes counts them


@dataclass(frozen=True)
class OutDisk:
    """One fit with --out at N and 2N evaluations, with the journal in DIR and (if tmpfs exists) on tmpfs."""

    fit: str
    image: str
    at_budget: FolderRun
    at_double: FolderRun
    journal_away: tuple[FolderRun, FolderRun] | None

    @property
    def budget(self) -> int:
        return self.at_budget.evaluations

    @property
    def bytes_per_evaluation(self) -> float:
        return _per(self.at_budget, self.at_double, lambda run: run.writes.written)

    @property
    def net_per_evaluation(self) -> float:
        return _per(self.at_budget, self.at_double, lambda run: run.writes.written - run.writes.cancelled)

    @property
    def journal_per_evaluation(self) -> float:
        return _per(self.at_budget, self.at_double, lambda run: run.journal)

    @property
    def journal_lines_per_evaluation(self) -> float:
        return _per(self.at_budget, self.at_double, lambda run: run.journal_lines)

    @property
    def beyond_per_evaluation(self) -> float | None:
        """Bytes per evaluation with the journal on tmpfs: everything but the study's record."""
        return None if self.journal_away is None else _per(*self.journal_away, lambda run: run.writes.written)

    @property
    def beyond_final_per_evaluation(self) -> float | None:
        """The same less the final files' pages: what the evaluations themselves write."""
        if self.journal_away is None:
            return None
        return _per(*self.journal_away, lambda run: run.writes.written - run.final)


def _per(first: FolderRun, second: FolderRun, value: Callable[[FolderRun], int]) -> float:
    """The growth of ``value`` from one run to the other per evaluation more (NaN if both made as many)."""
    more = second.evaluations - first.evaluations
    return (value(second) - value(first)) / more if more else math.nan


def disk_writes(fits: list[tuple[str, str, list[str]]], budget: int, folder: Path) -> list[OutDisk]:
    """Each ``(fit, image, arguments after "filterfit fit")`` with --out at N and 2N evaluations."""
    ram = measure.ram_folder()
    journal = None if ram is None else ram / f"filterfit-bench-{JOURNAL}"
    _folder_run(fits[-1][2], 2, folder)  # warm-up: a first run with --out may write .pyc files or a font cache
    rows = []
    for fit, image, arguments in fits:
        single, double = (_folder_run(arguments, n, folder) for n in (budget, 2 * budget))
        away = None
        if journal is not None:
            away = (
                _folder_run(arguments, budget, folder, journal),
                _folder_run(arguments, 2 * budget, folder, journal),
            )
        rows.append(OutDisk(fit, image, single, double, away))
    return rows


def _folder_run(arguments: list[str], budget: int, folder: Path, journal: Path | None = None) -> FolderRun:
    """One run into a fresh ``folder``; with ``journal``, the study goes there (``--storage``) instead."""
    shutil.rmtree(folder, ignore_errors=True)  # before the count: deleting the last run's files is not this run's
    options: tuple[str, ...] = ("--out", str(folder))
    if journal is not None:
        journal.write_bytes(b"")  # --storage takes a journal file that exists
        options += ("--storage", str(journal))
    os.sync()  # every run starts from a clean page cache (see the module docstring)
    with measure.counting_writes() as growth:
        measure.run_cli(arguments, budget, strategy="auto", options=options)
    record = (journal or folder / JOURNAL).read_bytes()
    final = sum(_pages(path) for path in folder.iterdir() if path.is_file() and not path.name.startswith(JOURNAL))
    evaluations = json.loads((folder / "result.json").read_text(encoding="utf-8"))["evaluations"]
    shutil.rmtree(folder)
    if journal is not None:
        journal.unlink()
    return FolderRun(evaluations, growth[0], len(record), record.count(b"\n"), final)


def _pages(path: Path) -> int:
    return math.ceil(path.stat().st_size / PAGE) * PAGE


# -- wall time -----------------------------------------------------------------


@dataclass(frozen=True)
class TimedFit:
    """One in-process ``filterfit.fit()``: its wall time, the final writing's, and what it found."""

    seed: int
    out: bool
    wall_s: float
    final_s: float  # inside write_outputs (0 without out)
    evaluations: int
    renders: int
    replayed: int
    stopped: str
    best_params: dict[str, Any]
    best_error: float | None


@dataclass(frozen=True)
class Overhead:
    """The same fit with and without ``out=``, in turns."""

    fit: str
    runs: tuple[TimedFit, ...]

    def walls(self, out: bool) -> list[float]:
        return [run.wall_s for run in self.runs if run.out == out]

    @property
    def without_s(self) -> float:
        return statistics.median(self.walls(False))

    @property
    def with_s(self) -> float:
        return statistics.median(self.walls(True))

    @property
    def final_s(self) -> float:
        return statistics.median(run.final_s for run in self.runs if run.out)

    @property
    def paired_ratio(self) -> float:
        """The median over pairs (one seed or repeat, run back to back) of with / without: less noisy than
        the ratio of the medians, as each pair shares the machine's state of the moment."""
        pairs = zip(self.runs[0::2], self.runs[1::2])
        return statistics.median((a.wall_s / b.wall_s) if a.out else (b.wall_s / a.wall_s) for a, b in pairs)

    @property
    def before_final_s(self) -> float:
        """Median wall with ``out=`` up to the final writing."""
        return statistics.median(run.wall_s - run.final_s for run in self.runs if run.out)


def overhead(fit: str, run: Callable[..., FitResult], seeds: list[int], folder: Path) -> Overhead:
    """``run(seed=..., out=...)`` with and without a fresh ``folder`` per seed, which runs first alternating."""
    return _in_turns(fit, lambda seed, out: timed(run, seed, out), seeds, folder)


def cli_overhead(fit: str, arguments: list[str], seeds: list[int], folder: Path) -> Overhead:
    """``filterfit fit ARGUMENTS --seed S --json`` with and without ``--out`` a fresh ``folder``, in turns."""
    return _in_turns(fit, lambda seed, out: _cli_timed(arguments, seed, out), seeds, folder)


def _in_turns(fit: str, timed_run: Callable[[int, Path | None], TimedFit], seeds: list[int], folder: Path) -> Overhead:
    runs = []
    for index, seed in enumerate(seeds):
        for out in (False, True) if index % 2 == 0 else (True, False):
            shutil.rmtree(folder, ignore_errors=True)
            runs.append(timed_run(seed, folder if out else None))
    shutil.rmtree(folder, ignore_errors=True)
    return Overhead(fit, tuple(runs))


def cli_arguments(b1: BenchProblem, budget: int, folder: Path, evaluations: int) -> list[tuple[str, list[str]]]:
    """B1's auto (2 workers, no probes, stopping once exact) and the look fit, as ``filterfit fit`` arguments."""
    source, target = look_pair()
    files = [save_image(source, folder / "look-cli.png"), save_image(target, folder / "look-cli-target.png")]
    fixed = ["--workers", "2", "--probes", "0"]
    return [
        ("B1, auto, command line", [*measure.command_fit_arguments(b1), "--budget", str(budget), *fixed]),
        (
            f"look fit, {evaluations} evaluations, command line",
            [*map(str, files), "--look", "--budget", str(evaluations), "--stop-below", "0", *fixed],
        ),
    ]


def _cli_timed(arguments: list[str], seed: int, out: Path | None) -> TimedFit:
    command = [*measure.cli_command(), "fit", *arguments, "--seed", str(seed), "--json"]
    command += ["--out", str(out)] if out is not None else []
    started = time.perf_counter()
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    result = json.loads(completed.stdout)
    return TimedFit(
        seed, out is not None, wall, math.nan, result["evaluations"], result["renders"], result["replayed"],
        result["stopped"], result["best_params"], result["best_error"],
    )  # fmt: skip


def warm_up(run: Callable[..., FitResult], folder: Path) -> None:
    """One short fit with ``out=``, untimed: the first in a process imports matplotlib and the report."""
    shutil.rmtree(folder, ignore_errors=True)
    run(seed=0, out=folder, budget=2)
    shutil.rmtree(folder)


def timed(run: Callable[..., FitResult], seed: int, out: Path | None, **options: Any) -> TimedFit:
    with final_writes_timed() as final:
        started = time.perf_counter()
        result = run(seed=seed, out=out, **options)
        wall = time.perf_counter() - started
    assert final or out is None, "fit() wrote its folder without filterfit.fit.write_outputs: time it another way"
    return TimedFit(
        seed,
        out is not None,
        wall,
        sum(final),
        result.evaluations,
        result.renders,
        result.replayed,
        result.stopped,
        dict(result.best_params),
        result.best_error,
    )


@contextmanager
def final_writes_timed() -> Iterator[list[float]]:
    """Time ``write_outputs`` inside ``fit()`` (by wrapping the name fit.py calls it by): no extra run needed."""
    module: Any = importlib.import_module("filterfit.fit")
    original = module.write_outputs
    spent: list[float] = []

    def write_outputs(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    module.write_outputs = write_outputs
    try:
        yield spent
    finally:
        module.write_outputs = original


# -- resume --------------------------------------------------------------------


@dataclass(frozen=True)
class Resume:
    """A fit interrupted after ``at`` evaluations and run again on its folder, beside the uninterrupted fit.

    ``alone`` is the uninterrupted fit without ``out=``: where two uninterrupted runs end on different
    parameters of the same error (2 workers: a tie goes to whichever finished first), so may a resume.
    """

    at: int
    interrupted: TimedFit
    resumed: TimedFit
    whole: TimedFit
    alone: TimedFit | None = None

    @property
    def same_answer(self) -> bool:
        return same_answer(self.resumed, self.whole)

    @property
    def extra_renders(self) -> int:
        """Renders of the interrupted and the resumed run beyond the uninterrupted run's."""
        return self.interrupted.renders + self.resumed.renders - self.whole.renders


def same_answer(first: TimedFit, second: TimedFit) -> bool:
    return (first.best_params, first.best_error) == (second.best_params, second.best_error)


def resume(
    run: Callable[..., FitResult], whole: TimedFit, at: int, folder: Path, alone: TimedFit | None = None
) -> Resume:
    """Interrupt ``run`` with ``whole``'s seed after ``at`` evaluations, then resume it from ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    interrupted = timed(run, whole.seed, folder, callback=_interrupt_after(at))
    resumed = timed(run, whole.seed, folder)
    shutil.rmtree(folder)
    return Resume(at, interrupted, resumed, whole, alone)


def _interrupt_after(count: int) -> Callable[[Progress], None]:
    def callback(progress: Progress) -> None:
        if progress.evaluations >= count:
            raise KeyboardInterrupt  # what Ctrl-C raises: fit() returns its best so far, stopped "interrupted"

    return callback
