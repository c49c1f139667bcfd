"""filterfit's side-by-side benchmark (issue 3): print a Markdown report and write it to benchmarks/RESULTS.md.

Runs filterfit's ``auto`` and its peers (Optuna TPE, CMA-ES, GP and random; nevergrad NGOpt;
benderopt; scipy Nelder-Mead) on the same objective, the memo's own method, and the measurements
issue 3 asks for (wall time vs a bound, parallel speed-up, disk writes), on problems B1-B3
(``problems.py``); then what ``--out`` costs (issue 16, ``out_folder.py``: disk writes beyond the
study's record, wall time with and without it, what a resume renders again); then the looks: filterfit's own
random looks (issue 4, ``looks.py``) and every filter of pilgram, a third party's Instagram-style looks
(issue 18, ``pilgram_looks.py``), beside color-matcher and a least-squares LUT (``lut_peer.py``); then
RawTherapee, darktable and GIMP driven through their own sliders (issue 19, ``editors.py``,
``editor_recovery.py``): the overhead, hidden presets and RAWs found again, and pilgram's filters in them.

    python benchmarks/run.py              # default: every issue's figures (~40 min on 2 cores, see below)
    python benchmarks/run.py --quick      # 1 seed, small budgets: a smoke test (~1 min)
    python benchmarks/run.py --full       # peers at 500 evaluations, more seeds (~2 h)

The default mode's time is mostly the peers (7 methods x 5 seeds x 180 evaluations of B1, ~20 s
a run) and B2 (3 runs of auto on 4 megapixels: up to ~2 min each while auto renders every point at
full resolution, ~20 s once it meets issue 3's B2 goal). The --out measurements add about 4 min
(1.5 in --quick): B1's auto 5 times with and 5 without --out, 3 look fits of 500 evaluations each
way, 5 interrupted and resumed fits, and 13 `filterfit fit --out` subprocesses. pilgram's 26 filters
add about 15 min (three fits each: one pair, two pairs, unpaired) and three timed 512 x 512 commands;
The editors' section (each editor skipped where it is not installed) about 50 min for RawTherapee and
darktable (mostly 26 and 8 fits of their sliders) and 20 for GIMP; ``--editors gimp`` runs one editor's.
    python benchmarks/run.py --only B1,B3 --methods auto,tpe --seeds 2
    python benchmarks/run.py --only editors --editors gimp --output gimp.md

It is run as a script, so its folder is on sys.path and the sibling modules import by name.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import editors
import looks
import measure
import optuna
import out_folder
import peers
import pilgram_looks
import problems
from memo import run_memo
from report import render
from results import MemoResult, Results

from filterfit.editors import EDITORS

HERE = Path(__file__).resolve().parent
DISK_FOLDER = HERE / "out"  # on the working disk, as the memo's JPEGs were (ignored by git)


@dataclass(frozen=True)
class Plan:
    """What one mode runs: per problem, per method, (seeds, budget); then the memo and the measurements."""

    runs: dict[str, dict[str, tuple[int, int]]]
    memo: tuple[int, int]  # seeds, evaluations
    parallel_budget: int
    disk_budget: int  # N: the disk figures compare runs at N and 2N evaluations (with and without --out)
    blur_repeats: int
    out_look_sizes: tuple[int, ...]  # --out disk writes of the look fit on the look pair at these sizes (px)
    out_look: tuple[int, int]  # repeats, evaluations: the look fit timed with and without --out
    resume_at: int  # K: B1's auto interrupted after K evaluations, then resumed from its folder
    notes: tuple[str, ...] = ()

    def capped(self, budget: int) -> Plan:
        """Every budget at most ``budget`` (for tests and smoke runs)."""
        runs = {
            p: {m: (seeds, min(b, budget)) for m, (seeds, b) in methods.items()} for p, methods in self.runs.items()
        }
        return replace(
            self,
            runs=runs,
            memo=(self.memo[0], min(self.memo[1], budget)),
            parallel_budget=min(self.parallel_budget, budget),
            disk_budget=min(self.disk_budget, budget),
            out_look=(self.out_look[0], min(self.out_look[1], budget)),
            resume_at=min(self.resume_at, max(1, budget // 2)),
        )

    def with_seeds(self, seeds: int) -> Plan:
        runs = {p: {m: (seeds, b) for m, (_, b) in methods.items()} for p, methods in self.runs.items()}
        return replace(self, runs=runs)


def _all(auto: tuple[int, int], peer: tuple[int, int], gp: tuple[int, int]) -> dict[str, tuple[int, int]]:
    return {"auto": auto, **{name: gp if name == "gp" else peer for name in peers.PEERS}}


PLANS = {
    "default": Plan(
        runs={
            "B1": _all(auto=(5, 200), peer=(5, 180), gp=(5, 180)),
            "B2": {"auto": (3, 200)},
            "B3": {"auto": (5, 300)},
        },
        memo=(1, 100),
        parallel_budget=40,
        disk_budget=20,
        blur_repeats=10,
        out_look_sizes=(256, 512),
        out_look=(3, 500),
        resume_at=30,
        notes=(
            'B1: auto at budget 200 (it stops itself once exact), every peer at 180, so that "auto within 1/3 of '
            'the best peer" is decidable whenever auto needs <= 60.',
            "GP runs all 5 seeds: at 180 trials of 2 parameters its sampler takes about 12 s a run in all, "
            "far from the 184 s issue 3 measured at 500 (--full runs it on 5 seeds, the others on 10).",
            "B2 runs auto only, 3 seeds, to keep the default run short; --full runs 5 seeds and a CMA-ES peer.",
            "B3 runs auto only (issue 3's goal is about auto); --full adds every peer at 500 evaluations.",
        ),
    ),
    "full": Plan(
        runs={
            "B1": _all(auto=(10, 200), peer=(10, 500), gp=(5, 500)),
            "B2": {"auto": (5, 200), "cmaes": (2, 200)},
            "B3": _all(auto=(10, 300), peer=(5, 500), gp=(3, 500)),
        },
        memo=(3, 200),
        parallel_budget=40,
        disk_budget=40,
        blur_repeats=20,
        out_look_sizes=(256, 512),
        out_look=(5, 500),
        resume_at=30,
        notes=("Full mode: peers at 500 evaluations, 10 seeds on B1 (GP 5), 5 on B3 (GP 3).",),
    ),
    "quick": Plan(
        runs={
            "B1": _all(auto=(1, 30), peer=(1, 20), gp=(1, 20)),
            "B2": {"auto": (1, 10)},
            "B3": _all(auto=(1, 30), peer=(1, 20), gp=(1, 20)),
        },
        memo=(1, 10),
        parallel_budget=10,
        disk_budget=5,
        blur_repeats=3,
        out_look_sizes=(64,),
        out_look=(1, 60),
        resume_at=10,
        notes=("Quick mode: one seed and small budgets, a smoke test; its figures say nothing about the goals.",),
    ),
}


# looks: benchmarks/looks.py; pilgram: benchmarks/pilgram_looks.py; editors: benchmarks/editors.py
ONLY = (*problems.NAMES, "looks", "pilgram", "editors")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--quick", action="store_const", dest="mode", const="quick", help="1 seed, small budgets")
    modes.add_argument("--full", action="store_const", dest="mode", const="full", help="larger budgets, more seeds")
    parser.set_defaults(mode="default")
    parser.add_argument("--only", default=",".join(ONLY), help="problems to run, e.g. B1,B3 or looks (issue 4)")
    methods = ",".join([*peers.METHODS, "memo"])
    parser.add_argument("--methods", default=methods, help=f"methods to run (default: {methods})")
    parser.add_argument("--seeds", type=int, help="seeds per method (overrides the mode's)")
    parser.add_argument("--budget", type=int, help="cap every budget at this many evaluations")
    parser.add_argument("--editors", help="the editors section's editors, e.g. gimp (default: every one)")
    parser.add_argument("--no-measurements", action="store_true", help="skip blur cost, speed-up and disk writes")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md", help="where to write the report")
    args = parser.parse_args(argv)
    args.only = _choices(parser, "--only", args.only, ONLY)
    args.methods = _choices(parser, "--methods", args.methods, (*peers.METHODS, "memo"))
    if args.editors is not None:
        args.editors = _choices(parser, "--editors", args.editors, tuple(EDITORS))
    return args


def _choices(parser: argparse.ArgumentParser, option: str, text: str, valid: tuple[str, ...]) -> tuple[str, ...]:
    chosen = tuple(word.strip() for word in text.split(",") if word.strip())
    unknown = [word for word in chosen if word not in valid]
    if unknown:
        parser.error(f"{option}: unknown {unknown[0]!r}; valid ones are {', '.join(valid)}")
    return chosen


def make_plan(args: argparse.Namespace) -> Plan:
    plan = PLANS[args.mode]
    if args.seeds is not None:
        plan = plan.with_seeds(args.seeds)
    if args.budget is not None:
        plan = plan.capped(args.budget)
    return plan


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    plan = make_plan(args)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    command = "python benchmarks/run.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="filterfit-bench-", dir=problems.scratch_folder()) as scratch:
        chosen = problems.make_problems(Path(scratch), args.only)
        results = Results(args.mode, command.strip(), list(plan.notes), chosen)
        measure_before(results, plan, args)
        for problem in chosen:
            run_methods(results, problem, plan, args.methods)
        measure_after(results, plan, args, Path(scratch))
    sections = []
    if "looks" in args.only:
        sections.append(looks.render(looks.run(args.mode, args.budget, _log)))
    if "pilgram" in args.only:
        sections.append(pilgram_looks.render(pilgram_looks.run(args.mode, args.budget, _log)))
    if "editors" in args.only:
        sections.append(editors.render(editors.run(args.mode, args.budget, _log, args.editors)))
    report = "\n".join([render(results), *sections])  # rendered last, so that the time it states is the whole run's
    print(report)
    args.output.write_text(report, encoding="utf-8")
    _log(f"report written to {args.output}")
    return 0


def measure_before(results: Results, plan: Plan, args: argparse.Namespace) -> None:
    """The cheap, quiet measurements first, before the fits have warmed anything up."""
    by_name = {p.name: p for p in results.problems}
    if "B1" in by_name and not args.no_measurements:
        results.accounting = measure.child_accounting_check(DISK_FOLDER)
        results.blur_s = measure.bare_blur_seconds(by_name["B1"].source, plan.blur_repeats)
        results.blur_repeats = plan.blur_repeats
        results.import_s = measure.import_seconds()
        _log(f"one bare blur: {results.blur_s:.3f} s; child I/O counted: {results.accounting.written} bytes")
    if "B3" in by_name:
        results.identifiability = problems.identifiability(by_name["B3"])


def run_methods(results: Results, problem: problems.BenchProblem, plan: Plan, methods: tuple[str, ...]) -> None:
    for name, (seeds, budget) in plan.runs.get(problem.name, {}).items():
        if name not in methods:
            continue
        for seed in range(seeds):
            outcome = peers.run(problem, peers.METHODS[name], seed, budget)
            results.outcomes.append(outcome)
            _log(
                f"{problem.name} {name} seed {seed}: {outcome.status}, success {outcome.success}, "
                f"first {outcome.first_success}, {outcome.evaluations} evaluations, {outcome.wall_s:.1f} s"
            )


def measure_after(results: Results, plan: Plan, args: argparse.Namespace, scratch: Path) -> None:
    """The memo's method and the B1 measurements that run fits of their own."""
    b1 = next((p for p in results.problems if p.name == "B1"), None)
    if b1 is None:
        return
    if "memo" in args.methods:
        seeds, budget = plan.memo
        results.memo = [run_memo_measured(b1, budget, seed) for seed in range(seeds)]
    if not args.no_measurements:
        for outcome in results.runs("B1", "auto"):
            results.own_bare_s[outcome.seed] = measure.own_bare_blurs_seconds(b1.source, outcome.evaluated)
        results.speedup = measure.parallel_speedup(b1, plan.parallel_budget)
        _log(f"parallel: {results.speedup}")
        results.disk = measure.cli_disk_writes(b1, plan.disk_budget)
        ram = measure.ram_temporary_folder()
        if ram is not None:
            results.disk_ram = measure.cli_disk_writes(b1, plan.disk_budget, ram)
        _log(f"disk: {results.disk.bytes_per_evaluation:.0f} bytes per evaluation")
        measure_out(results, plan, b1, scratch)


def measure_out(results: Results, plan: Plan, b1: problems.BenchProblem, scratch: Path) -> None:
    """What --out costs (issue 16): wall time with and without it, what a resume renders again, its disk writes."""
    seeds, budget = plan.runs["B1"]["auto"]
    b1_fit = out_folder.b1_auto(b1, budget)
    repeats, evaluations = plan.out_look
    look_fit = out_folder.look_fit(evaluations)
    folder = DISK_FOLDER / "fit"
    out_folder.warm_up(b1_fit, folder)
    results.out_overhead = [
        out_folder.overhead("B1, auto", b1_fit, list(range(seeds)), folder),
        out_folder.overhead(f"look fit, {evaluations} evaluations", look_fit, [0] * repeats, folder),
    ]
    (b1_cli, b1_arguments), (look_cli, look_arguments) = out_folder.cli_arguments(b1, budget, scratch, evaluations)
    results.out_cli_overhead = [
        out_folder.cli_overhead(b1_cli, b1_arguments, list(range(seeds)), folder),
        out_folder.cli_overhead(look_cli, look_arguments, [0] * repeats, folder),
    ]
    for o in results.out_overhead + results.out_cli_overhead:
        _log(f"--out {o.fit}: median wall {o.without_s:.2f} s without, {o.with_s:.2f} s with, final {o.final_s:.2f} s")
    whole = [run for run in results.out_overhead[0].runs if run.out]
    alone = {run.seed: run for run in results.out_overhead[0].runs if not run.out}
    results.resumes = [out_folder.resume(b1_fit, run, plan.resume_at, folder, alone[run.seed]) for run in whole]
    for r in results.resumes:
        _log(f"resume seed {r.whole.seed}: {r.resumed.replayed} replayed, same answer {r.same_answer}")
    fits = out_folder.cli_fits(b1, plan.out_look_sizes, scratch)
    results.out_disk = out_folder.disk_writes(fits, plan.disk_budget, folder)
    for d in results.out_disk:
        _log(f"--out disk, {d.fit} {d.image}: {d.bytes_per_evaluation:.0f} bytes per evaluation")


def run_memo_measured(b1: problems.BenchProblem, budget: int, seed: int) -> MemoResult:
    """One run of the memo's method, its disk writes, and its answer scored losslessly against the PNG target."""
    with measure.counting_writes() as writes:
        run = run_memo(b1.source, b1.target, budget=budget, seed=seed, disk_folder=DISK_FOLDER)
    rmse = problems.in_process(b1).evaluate(run.best_params).value
    assert rmse is not None, "the memo's best answer failed to render"
    _log(
        f"memo seed {seed}: {run.seconds_per_evaluation:.3f} s per evaluation, best {run.best_params}, rmse {rmse:.2e}"
    )
    return MemoResult(run, rmse, b1.success(run.best_params, rmse), writes[0])


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
