"""Record what the search evaluates, to prove that a restructuring changed nothing (issue 17).

    python benchmarks/sequences.py record before.json     # on the code before the change
    python benchmarks/sequences.py record after.json      # on the code after it
    python benchmarks/sequences.py compare before.json after.json

A recording holds, for B1 (seeds 0-19), B3 (seeds 0-4) and the benchmark's 10 paired looks
(seeds 0-9), every evaluation of the run in trial order: its parameters, error and fidelity
(the crop or preview it was scored on); then the answer, the flags, the intervals and the
probes. Runs use one worker, so the trial order is the strategy's own order of asking (with
two, evaluations finishing in another order give other trial numbers to the same points).
``compare`` prints the first difference of each run and exits 1 if there is one.

It is run as a script, so its folder is on sys.path and the sibling modules import by name.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import looks
import numpy as np
import problems

import filterfit

B1_SEEDS = range(20)
B3_SEEDS = range(5)
BUDGETS = {"B1": 200, "B3": 300}


def record(path: Path, *, quick: bool = False) -> None:
    """Run every problem and seed and write the recording to ``path``."""
    started = time.perf_counter()
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=problems.scratch_folder()) as folder:
        for problem in problems.make_problems(Path(folder), ("B1", "B3")):
            seeds = B1_SEEDS if problem.name == "B1" else B3_SEEDS
            for seed in list(seeds)[: 1 if quick else None]:
                result = filterfit.fit(
                    problem.template,
                    list(problem.params),
                    problem.source,
                    problem.target,
                    seed=seed,
                    budget=BUDGETS[problem.name],
                    workers=1,
                )
                runs[f"{problem.name} seed {seed}"] = _sequence(result)
                print(f"{problem.name} seed {seed}: {result.evaluations} evaluations", file=sys.stderr)
    rng = np.random.default_rng(looks.PAIRED_SEED)
    plan = looks.PLANS["quick" if quick else "default"]
    for index in range(plan.paired):
        source, target, _ = looks.paired_look(looks.PHOTOS[index % len(looks.PHOTOS)], rng)
        result = filterfit.fit(
            look=True, source=source, target=target, budget=plan.paired_budget, workers=1, seed=index
        )
        runs[f"look {index}"] = _sequence(result)
        print(f"look {index}: {result.evaluations} evaluations", file=sys.stderr)
    path.write_text(json.dumps({"runs": runs, "seconds": round(time.perf_counter() - started, 1)}, indent=0))


def _sequence(result: filterfit.FitResult) -> dict[str, Any]:
    """What must not change: every evaluation in order, the answer and what was said about it."""
    return {
        "evaluations": [[r.params, r.error, r.fidelity] for r in result.history],
        "probes": [[r.params, r.error] for r in result.probes],
        "best_params": result.best_params,
        "best_error": result.best_error,
        "flags": result.flags,
        "uncertainty": result.uncertainty,
        "stopped": result.stopped,
    }


def compare(before: Path, after: Path) -> int:
    """Print each run's first difference; 0 when every run is the same."""
    old, new = (json.loads(path.read_text())["runs"] for path in (before, after))
    differences = 0
    for name in dict.fromkeys([*old, *new]):
        difference = _first_difference(old.get(name), new.get(name))
        if difference is not None:
            differences += 1
            print(f"{name}: {difference}")
    evaluations = sum(len(run["evaluations"]) for run in old.values())
    print(f"{len(old)} runs, {evaluations} evaluations recorded; {differences} runs differ")
    return 1 if differences else 0


def _first_difference(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str | None:
    if old is None or new is None:
        return "missing from " + ("the first" if old is None else "the second") + " recording"
    for key in old:
        if key == "evaluations":
            for number, (a, b) in enumerate(zip(old[key], new[key])):
                if a != b:
                    return f"evaluation {number}: {a} != {b}"
            if len(old[key]) != len(new[key]):
                return f"{len(old[key])} evaluations != {len(new[key])}"
        elif old[key] != new.get(key):
            return f"{key}: {old[key]} != {new.get(key)}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record", help="run the problems and write a recording")
    recording.add_argument("path", type=Path)
    recording.add_argument("--quick", action="store_true", help="one seed of each, the quick looks")
    comparing = commands.add_parser("compare", help="compare two recordings")
    comparing.add_argument("before", type=Path)
    comparing.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.path, quick=args.quick)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
