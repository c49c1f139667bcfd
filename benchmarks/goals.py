"""Issues 3 and 16's "Done when", checked against one run's results: each goal's text, measurement and verdict."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, NamedTuple

from results import evaluations_text, median_first, successes_text

if TYPE_CHECKING:
    from peers import Outcome
    from results import Results

# issue 3's thresholds
AUTO_EVALUATIONS = 60
PEER_FRACTION = 1 / 3
BOUND_FACTOR = 1.3
MEMO_SPEEDUP = 100
PARALLEL_SPEEDUP = 1.8
B2_FACTOR = 4
B3_BUDGET = 300
# issue 16's
OUT_BYTES = 2000  # "2 KB" written per evaluation beyond the study's own record
OUT_WALL_FACTOR = 1.05


def rows(results: Results) -> list[tuple[str, str, str]]:
    """One row per goal: what it asks, what this run measured, and whether it is met."""
    return [
        goal(f"B1: auto reaches success in <= {AUTO_EVALUATIONS} evaluations (median)", *_auto_evaluations(results)),
        goal("B1: auto needs at most 1/3 of the best peer's evaluations", *versus_peers(results)),
        goal(f"B1: wall <= {BOUND_FACTOR} x (evaluations x one bare blur / 2)", *_wall_versus_bound(results)),
        goal(f"B1: >= {MEMO_SPEEDUP}x faster than the memo's method, equal or better answer", *_versus_memo(results)),
        goal(f"B1: 2 workers vs 1, speed-up >= {PARALLEL_SPEEDUP}x", *_parallel(results)),
        goal("0 bytes written to disk per evaluation (ImageMagick command)", *_disk(results)),
        goal(f"B2 wall <= {B2_FACTOR}x B1 wall (auto, medians)", *b2_versus_b1(results)),
        goal(f"B3: auto succeeds on 5 of 5 seeds within {B3_BUDGET} evaluations", *_b3(results)),
        goal(
            "with --out: <= 2 KB written per evaluation beyond the study's own record (command fit and look fit)",
            *_out_disk(results),
        ),
        goal("--out costs <= 5 % wall time (B1 auto; a 500-evaluation look fit)", *_out_wall(results)),
    ]


def goal(text: str, measured: str, met: bool | str | None) -> tuple[str, str, str]:
    """One row; ``met`` is True, False, None (not measured in this run) or why it cannot be told."""
    if isinstance(met, str):
        return text, measured, met
    return text, measured, {True: "yes", False: "**no**", None: "not measured"}[met]


def _auto_evaluations(results: Results) -> tuple[str, bool | None]:
    runs = results.runs("B1", "auto")
    if not runs:
        return "-", None
    median = median_first(runs)
    return f"{evaluations_text(median, runs)} ({successes_text(runs)} succeeded)", median <= AUTO_EVALUATIONS


def versus_peers(results: Results) -> tuple[str, bool | str | None]:
    auto, best = results.runs("B1", "auto"), best_peer(results, "B1")
    if not auto or best is None:
        return "-", None
    name, peer_runs = best
    mine, theirs = median_first(auto), median_first(peer_runs)
    measured = f"auto {evaluations_text(mine, auto)} vs {name} {evaluations_text(theirs, peer_runs)}"
    if not math.isinf(theirs):
        return measured + f" (ratio {mine / theirs:.2f})", mine <= theirs * PEER_FRACTION
    # the peer's median is only known to exceed its budget: decidable only when auto is under a third of it
    budget = max(o.budget for o in peer_runs)
    if mine <= budget * PEER_FRACTION:
        return measured, True
    return measured, False if math.isinf(mine) else f"cannot tell (auto > {budget} / 3)"


def best_peer(results: Results, problem: str) -> tuple[str, list[Outcome]] | None:
    """The peer with the fewest median evaluations to success (ties: the fastest wall)."""
    candidates = [(name, results.runs(problem, name)) for name in results.methods(problem) if name != "auto"]
    candidates = [(name, runs) for name, runs in candidates if runs]
    if not candidates:
        return None
    return min(candidates, key=lambda pair: (median_first(pair[1]), statistics.median(o.wall_s for o in pair[1])))


def _wall_versus_bound(results: Results) -> tuple[str, bool | None]:
    rows = wall_bounds(results)
    if not rows:
        return "-", None
    ratios = [row.wall / row.bound for row in rows]
    median = statistics.median(ratios)
    text = f"median wall / bound {median:.2f} (per seed {', '.join(f'{r:.2f}' for r in ratios)})"
    overheads = [row.wall / (row.own_bare / 2) for row in rows if row.own_bare]
    if overheads:
        text += f"; wall / (its evaluations' own bare blurs / 2): median {statistics.median(overheads):.2f}"
    return text, median <= 1


class WallRow(NamedTuple):
    """One auto run on B1 against the issue's bound (seconds)."""

    seed: int
    evaluations: int
    bound: float  # BOUND_FACTOR x evaluations x one bare 27x20 blur / 2 workers
    wall: float
    evaluating: float  # inside evaluations, summed over both workers
    own_bare: float | None  # the bare blurs of this run's own parameters, summed (None: not measured)


def wall_bounds(results: Results) -> list[WallRow]:
    """Per auto run on B1: the issue's bound, the wall, and what the evaluations cost."""
    if results.blur_s is None:
        return []
    return [
        WallRow(
            o.seed,
            o.evaluations,
            BOUND_FACTOR * o.evaluations * results.blur_s / 2,
            o.wall_s,
            o.evaluating_s,
            results.own_bare_s.get(o.seed),
        )
        for o in results.runs("B1", "auto")
    ]


def _versus_memo(results: Results) -> tuple[str, bool | None]:
    auto = results.runs("B1", "auto")
    if not auto or not results.memo:
        return "-", None
    memo_s = statistics.median(m.run.extrapolated_s() for m in results.memo)
    memo_rmse = statistics.median(m.rmse for m in results.memo)
    auto_s = statistics.median(o.wall_s for o in auto)
    auto_rmse = statistics.median(o.best_error if o.best_error is not None else math.inf for o in auto)
    better = auto_rmse <= memo_rmse
    measured = (
        f"{memo_s / auto_s:.0f}x (memo {memo_s:.0f} s extrapolated, rmse {memo_rmse:.2e}; "
        f"auto {auto_s:.1f} s, rmse {auto_rmse:.2e})"
    )
    return measured, memo_s / auto_s >= MEMO_SPEEDUP and better


def _parallel(results: Results) -> tuple[str, bool | None]:
    s = results.speedup
    if s is None:
        return "-", None
    free, single = s.one_worker_s / s.two_workers_s, s.one_worker_single_thread_s / s.two_workers_s
    return (
        f"{free:.2f}x vs 1 worker as is; {single:.2f}x vs 1 worker with MAGICK_THREAD_LIMIT=1",
        free >= PARALLEL_SPEEDUP,
    )


def _disk(results: Results) -> tuple[str, bool | None]:
    if results.disk is None:
        return "-", None
    per = results.disk.bytes_per_evaluation
    return f"{per:.0f} bytes per evaluation (`filterfit fit`, random, 2 workers)", per <= 0


def b2_versus_b1(results: Results) -> tuple[str, bool | None]:
    b1, b2 = results.runs("B1", "auto"), results.runs("B2", "auto")
    if not b1 or not b2:
        return "-", None
    ratio = statistics.median(o.wall_s for o in b2) / statistics.median(o.wall_s for o in b1)
    return f"{ratio:.1f}x ({successes_text(b2)} B2 runs succeeded)", ratio <= B2_FACTOR


def _b3(results: Results) -> tuple[str, bool | str | None]:
    runs = results.runs("B3", "auto")
    if not runs:
        return "-", None
    within = sum(o.first_success is not None and o.first_success <= B3_BUDGET for o in runs)
    measured = f"{within} of {len(runs)} seeds (median {evaluations_text(median_first(runs), runs)})"
    if within < len(runs):
        return measured, False
    return measured, True if len(runs) >= 5 else f"cannot tell ({len(runs)} seeds)"


def _out_disk(results: Results) -> tuple[str, bool | str | None]:
    rows = results.out_disk
    if not rows:
        return "-", None
    beyond = [row.beyond_final_per_evaluation for row in rows]
    record = ", ".join(f"{row.fit} {row.image} {row.bytes_per_evaluation:.0f}" for row in rows)
    if any(value is None for value in beyond):
        return f"in all, the journal included: {record} bytes per evaluation", "cannot tell (no tmpfs for the journal)"
    measured = ", ".join(f"{row.fit} {row.image} {value:.0f}" for row, value in zip(rows, beyond))
    text = (
        f"{measured} bytes per evaluation beyond the journal and the final files (in all, the journal included: "
        f"{record})"
    )
    return text, all(value is not None and value <= OUT_BYTES for value in beyond)


def _out_wall(results: Results) -> tuple[str, bool | None]:
    rows = results.out_overhead + results.out_cli_overhead
    if not rows:
        return "-", None
    measured = "; ".join(
        f"{o.fit}: {o.paired_ratio:.2f}x paired ({o.with_s:.2f} s vs {o.without_s:.2f} s median"
        + ("" if math.isnan(o.final_s) else f"; final writing {o.final_s:.2f} s, {o.final_s / o.without_s:.1%}")
        + ")"
        for o in rows
    )
    return measured, all(o.paired_ratio <= OUT_WALL_FACTOR for o in rows)
