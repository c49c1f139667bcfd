"""How long report.html takes to build for a 200-evaluation run (issue 5: under 5 s).

    python benchmarks/report_page.py [--budget 200] [--repeats 3]

Fits the memo's blur on the demo photo with the ``random`` strategy (it spends the whole budget,
where ``auto`` stops once the render is exact), then rebuilds report.html from the folder, in
this process (``build_report``) and as a user would (``filterfit report DIR``, Python start-up
and imports included). Prints the median of each; the fit itself is not timed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import filterfit
from filterfit import demo
from filterfit.report import build_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        source, target = demo.prepare(out / "inputs")
        result = filterfit.fit(
            demo.TEMPLATE, demo.PARAMS, source, target, strategy="random", budget=options.budget, seed=0, out=out
        )
        in_process = _median(options.repeats, lambda: build_report(out))
        command = [sys.executable, "-m", "filterfit", "report", str(out)]
        from_cli = _median(options.repeats, lambda: subprocess.run(command, check=True, capture_output=True))
        size = (out / "report.html").stat().st_size
    print(f"report.html for {result.evaluations} evaluations and {len(result.probes)} probes ({size / 1e6:.1f} MB):")
    print(f"  build_report: {in_process:.2f} s; `filterfit report DIR`: {from_cli:.2f} s (median of {options.repeats})")


def _median(repeats: int, action: Callable[[], object]) -> float:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


if __name__ == "__main__":
    main()
