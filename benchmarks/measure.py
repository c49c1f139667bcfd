"""Measurements beside the fits: the cost of one bare blur, parallel speed-up, and bytes written to disk.

Disk writes come from ``write_bytes`` in ``/proc/self/io``. Linux adds the I/O counters of every
reaped child (and, through it, of the child's own reaped children) to its parent's, so the growth
of this process's counter across a ``subprocess.run`` counts the whole process tree of that run;
``child_accounting_check()`` verifies this on the machine at hand with a child that writes 10 MiB
and fsyncs. ``write_bytes`` counts pages dirtied on a disk-backed file system when they are
dirtied, so a file written and deleted before it reaches the disk still counts (Linux reports it
again under ``cancelled_write_bytes``); tmpfs (``/dev/shm``) does not count at all.
"""

from __future__ import annotations

import functools
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import filterfit
from filterfit.images import encode_pnm, load_image

if TYPE_CHECKING:
    from problems import BenchProblem

SINGLE_THREAD = {"MAGICK_THREAD_LIMIT": "1", "OMP_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1"}  # as filterfit's workers
TEST_FILE_BYTES = 10 << 20


@dataclass(frozen=True)
class Writes:
    """Growth of this process's I/O counters over some work."""

    written: int  # write_bytes
    cancelled: int  # cancelled_write_bytes: dirtied, then truncated or deleted before writeback


def io_counters() -> Writes:
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return Writes(int(fields["write_bytes"]), int(fields["cancelled_write_bytes"]))


@contextmanager
def counting_writes() -> Iterator[list[Writes]]:
    """``with counting_writes() as growth:`` ... then ``growth[0]`` holds what the block wrote."""
    growth: list[Writes] = []
    before = io_counters()
    yield growth
    after = io_counters()
    growth.append(Writes(after.written - before.written, after.cancelled - before.cancelled))


def child_accounting_check(disk_folder: Path) -> Writes:
    """What a child that writes 10 MiB with fsync to ``disk_folder`` adds to this process's counters."""
    disk_folder.mkdir(parents=True, exist_ok=True)
    path = disk_folder / "io-check.bin"
    code = (
        "import os, sys\n"
        "with open(sys.argv[1], 'wb') as f:\n"
        f"    f.write(b'x' * {TEST_FILE_BYTES}); f.flush(); os.fsync(f.fileno())\n"
    )
    try:
        with counting_writes() as growth:
            subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    finally:
        path.unlink(missing_ok=True)
    return growth[0]


def bare_blur_seconds(source: Path, repeats: int) -> float:
    """Median time of one ``convert ppm:- -blur 27x20 ppm:-`` fed from memory, one thread, like a worker's."""
    ppm = _photo_ppm(source)
    return statistics.median(_bare_blur(ppm, "27x20") for _ in range(repeats))


def own_bare_blurs_seconds(source: Path, evaluated: Iterable[tuple[dict[str, float], str | None]]) -> float:
    """The bare blurs of a run's own evaluations, one each, summed: what its evaluations cost at the least.

    A blur's cost grows with its radius (a radius of 100 takes about 3 times one of 27), so this
    separates filterfit's overhead from where the search chose to evaluate. An evaluation of a crop
    (``"WxH+X+Y"``) is timed on that crop of the photo.
    """
    return sum(
        _bare_blur(_photo_ppm(source, crop), f"{params['radius']}x{params['sigma']}") for params, crop in evaluated
    )


@functools.cache
def _photo_ppm(source: Path, crop: str | None = None) -> bytes:
    """The photo (or a crop of it) as a worker pipes it to ``convert``: encoded once per benchmark run."""
    pixels = load_image(source).pixels
    if crop is not None:
        width, height, left, top = map(int, re.split(r"[x+]", crop))
        pixels = pixels[top : top + height, left : left + width]
    return encode_pnm(pixels, 8)


def _bare_blur(ppm: bytes, geometry: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["convert", "ppm:-", "-blur", geometry, "ppm:-"],
        input=ppm,
        capture_output=True,
        env={**os.environ, **SINGLE_THREAD},
        check=True,
    )
    return time.perf_counter() - started


@dataclass(frozen=True)
class Speedup:
    budget: int
    one_worker_s: float  # ImageMagick free to use every core (OpenMP)
    one_worker_single_thread_s: float  # MAGICK_THREAD_LIMIT=1 set for the run
    two_workers_s: float


def parallel_speedup(problem: BenchProblem, budget: int, seed: int = 0) -> Speedup:
    """The same fixed-budget ``random`` run with 1 worker (with and without a thread limit) and 2 workers."""
    with _environment({name: None for name in SINGLE_THREAD}):
        free = _timed_fit(problem, budget, seed, workers=1)
    with _environment(dict(SINGLE_THREAD)):
        single = _timed_fit(problem, budget, seed, workers=1)
    with _environment({name: None for name in SINGLE_THREAD}):
        two = _timed_fit(problem, budget, seed, workers=2)  # filterfit limits each worker's program itself
    return Speedup(budget, free, single, two)


def _timed_fit(problem: BenchProblem, budget: int, seed: int, workers: int) -> float:
    started = time.perf_counter()
    result = filterfit.fit(
        problem.template,
        list(problem.params),
        problem.source,
        problem.target,
        strategy="random",
        seed=seed,
        budget=budget,
        workers=workers,
        stop_below=0.0,  # a fixed budget: never stop early
        probes=0,  # the search alone: no uncertainty probes after it
    )
    assert result.evaluations == budget, f"expected {budget} evaluations, got {result.evaluations}"
    return time.perf_counter() - started


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for a block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    _apply(values)
    try:
        yield
    finally:
        _apply(saved)


def _apply(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@dataclass(frozen=True)
class DiskFigure:
    budget: int  # N
    at_budget: Writes  # the run at N evaluations
    at_double: Writes  # the run at 2N

    @property
    def bytes_per_evaluation(self) -> float:
        """(writes(2N) - writes(N)) / N: start-up and shut-down writes cancel out."""
        return (self.at_double.written - self.at_budget.written) / self.budget

    @property
    def net_per_evaluation(self) -> float:
        """The same for write_bytes - cancelled_write_bytes: what was not deleted before writeback."""
        net = [w.written - w.cancelled for w in (self.at_budget, self.at_double)]
        return (net[1] - net[0]) / self.budget


def cli_disk_writes(problem: BenchProblem, budget: int, environment: dict[str, str] | None = None) -> DiskFigure:
    """``filterfit fit`` as a subprocess (random, 2 workers, no --out, no probes) at N and 2N evaluations."""
    arguments = command_fit_arguments(problem)
    run_cli(arguments, 2, environment=environment)  # warm-up: a first run may write .pyc files or a font cache
    with counting_writes() as single:
        run_cli(arguments, budget, environment=environment)
    with counting_writes() as double:
        run_cli(arguments, 2 * budget, environment=environment)
    return DiskFigure(budget, single[0], double[0])


def ram_temporary_folder() -> dict[str, str] | None:
    """An environment pointing ImageMagick's temporary files at tmpfs, if there is one.

    ImageMagick 6 spools a pipe's image through a file in its temporary folder (/tmp by default),
    which is why this variant is measured too: it shows what the setting would save.
    """
    ram = ram_folder()
    return None if ram is None else {"MAGICK_TEMPORARY_PATH": str(ram)}


def ram_folder() -> Path | None:
    """/dev/shm if it is there and writable: tmpfs, whose pages never count as disk writes."""
    ram = Path("/dev/shm")
    return ram if ram.is_dir() and os.access(ram, os.W_OK) else None


def cli_command() -> list[str]:
    """The installed ``filterfit`` script beside this interpreter, else ``python -m filterfit``."""
    script = Path(sys.executable).parent / "filterfit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "filterfit"]


def command_fit_arguments(problem: BenchProblem) -> list[str]:
    """What follows ``filterfit fit`` for a problem: ``SOURCE TARGET --command ... --param ...``."""
    params = [word for spec in problem.params for word in ("--param", spec)]
    return [str(problem.source), str(problem.target), "--command", problem.template, *params]


def run_cli(
    arguments: list[str],
    budget: int,
    *,
    strategy: str = "random",
    options: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
) -> None:
    """``filterfit fit ARGUMENTS``, 2 workers, seed 0, exactly ``budget`` evaluations (no early stop, no probes)."""
    fixed = ["--strategy", strategy, "--workers", "2", "--budget", str(budget), "--seed", "0"]
    subprocess.run(
        [*cli_command(), "fit", *arguments, *fixed, "--stop-below", "0", "--probes", "0", "--quiet", *options],
        check=True,
        capture_output=True,
        env={**os.environ, **(environment or {})},
    )


def import_seconds() -> float:
    """Time to start Python and import filterfit's CLI: what ``filterfit fit`` costs before its first evaluation."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import filterfit.cli, filterfit.fit"], check=True)
    return time.perf_counter() - started
