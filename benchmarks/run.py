"""filterfit benchmarks: print a Markdown table and write it to benchmarks/RESULTS.md.

B1 is the memo's problem: a 512x512 real photo (scikit-image's astronaut),
target made by real ImageMagick ``convert -blur 27x20`` (PNG), radius and
sigma searched in [0, 100]. Success: radius in [27, 27.5) (kernel width 55),
|sigma - 20| <= 0.05 and RMSE <= 1e-4.

    python benchmarks/run.py                    # auto, 5 seeds, budget 200
    python benchmarks/run.py --strategies auto,tpe,cmaes,random --seeds 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from skimage import data

import filterfit
from filterfit.images import save_image, to_float

HERE = Path(__file__).resolve().parent
TEMPLATE = "convert {input} -blur {radius}x{sigma} {output}"
PARAMS = ["radius=0:100", "sigma=0:100"]


@dataclass(frozen=True)
class Outcome:
    problem: str
    strategy: str
    seed: int
    success: bool
    first_success: int | None  # evaluations until the first successful one
    evaluations: int
    best_error: float
    wall_s: float


def b1_success(params: dict, error: float | None) -> bool:
    return error is not None and 27 <= params["radius"] < 27.5 and abs(params["sigma"] - 20) <= 0.05 and error <= 1e-4


def make_b1(folder: Path) -> tuple[Path, Path]:
    source = save_image(to_float(data.astronaut()), folder / "photo.png")
    target = folder / "target.png"
    subprocess.run(["convert", str(source), "-blur", "27x20", str(target)], check=True)
    return source, target


def run_b1(source: Path, target: Path, strategy: str, seed: int, budget: int, workers: int) -> Outcome:
    started = time.perf_counter()
    result = filterfit.fit(
        TEMPLATE, PARAMS, source, target, strategy=strategy, seed=seed, budget=budget, workers=workers
    )
    wall = time.perf_counter() - started
    first = next((r.number + 1 for r in result.history if b1_success(r.params, r.error)), None)
    return Outcome(
        "B1",
        strategy,
        seed,
        b1_success(result.best_params, result.best_error),
        first,
        result.evaluations,
        result.best_error,
        wall,
    )


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| problem | strategy | seed | success | evaluations to success | evaluations | best rmse | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.problem} | {o.strategy} | {o.seed} | {'yes' if o.success else 'no'} | "
            f"{o.first_success or '-'} | {o.evaluations} | {o.best_error:.2e} | {o.wall_s:.1f} |"
        )
    return "\n".join(lines)


def summary(outcomes: list[Outcome]) -> str:
    lines = [
        "| problem | strategy | successes | median evaluations to success | median wall s |",
        "|---|---|---|---|---|",
    ]
    for key in dict.fromkeys((o.problem, o.strategy) for o in outcomes):
        group = [o for o in outcomes if (o.problem, o.strategy) == key]
        firsts = [o.first_success for o in group if o.first_success]
        median_first = f"{statistics.median(firsts):.0f}" if firsts else "-"
        lines.append(
            f"| {key[0]} | {key[1]} | {sum(o.success for o in group)}/{len(group)} | {median_first} | "
            f"{statistics.median(o.wall_s for o in group):.1f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    magick = subprocess.run(["convert", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    cores = filterfit.evaluator.default_workers()
    return (
        f"{platform.node()} - {platform.processor() or platform.machine()}, {cores} cores; "
        f"Python {platform.python_version()}, filterfit {filterfit.__version__}, optuna {optuna.__version__}, "
        f"numpy {np.__version__}; {magick}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategies", default="auto", help="comma-separated strategies (default: auto)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    outcomes = []
    with tempfile.TemporaryDirectory() as scratch:
        source, target = make_b1(Path(scratch))
        for strategy in args.strategies.split(","):
            for seed in range(args.seeds):
                outcome = run_b1(source, target, strategy, seed, args.budget, args.workers)
                print(
                    f"B1 {strategy} seed {seed}: success={outcome.success} first={outcome.first_success} "
                    f"wall={outcome.wall_s:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
                outcomes.append(outcome)
    report = (
        "\n\n".join(
            [
                "# filterfit benchmark results",
                f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.",
                f"B1: the memo's blur (`convert -blur 27x20`, 512x512 PNG target, radius and sigma in [0, 100]), "
                f"budget {args.budget}, {args.workers} workers. Success: radius in [27, 27.5), |sigma - 20| <= 0.05, "
                f"RMSE <= 1e-4.",
                "## Summary",
                summary(outcomes),
                "## Every run",
                table(outcomes),
            ]
        )
        + "\n"
    )
    print(report)
    args.output.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
