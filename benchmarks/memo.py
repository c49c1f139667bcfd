"""The memo's method, as the memo ran it: two programs and a JPEG file per evaluation, benderopt's loop.

Each evaluation runs ``convert source.png -blur RxS out.jpg`` (a JPEG written to a folder on the
working disk) and ``compare -metric rmse target.png out.jpg null:``, whose normalised value in
parentheses, printed on stderr, is the loss. ``benderopt.minimize`` proposes radius and sigma, each
uniform on [0, 100], one evaluation after the other. The memo made 10,000 evaluations; the
benchmark makes fewer and extrapolates the time (see ``extrapolated_s``).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MEMO_EVALUATIONS = 10_000
_NORMALISED = re.compile(r"\(([-+0-9.eE]+)\)")


@dataclass(frozen=True)
class MemoRun:
    seed: int
    evaluations: int
    wall_s: float
    best_params: dict[str, float]
    best_compare: float  # compare's rmse against the PNG target, of the JPEG the memo's loop saw

    @property
    def seconds_per_evaluation(self) -> float:
        return self.wall_s / self.evaluations

    def extrapolated_s(self, evaluations: int = MEMO_EVALUATIONS) -> float:
        """Time for the memo's evaluations at this run's pace.

        A lower bound: benderopt's Parzen estimator gets slower as observations pile up.
        """
        return self.seconds_per_evaluation * evaluations


def run_memo(source: Path, target: Path, *, budget: int, seed: int, disk_folder: Path) -> MemoRun:
    """benderopt.minimize over the JPEG-file objective; ``disk_folder`` must be on a real disk."""
    import benderopt

    disk_folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="memo-", dir=disk_folder) as folder:
        output = Path(folder) / "out.jpg"
        seen: list[tuple[float, dict[str, float]]] = []

        def loss(radius: float, sigma: float) -> float:
            value = _blur_and_compare(source, target, output, radius, sigma)
            seen.append((value, {"radius": float(radius), "sigma": float(sigma)}))
            return value

        parameters = [
            {"name": name, "category": "uniform", "search_space": {"low": 0, "high": 100}}
            for name in ("radius", "sigma")
        ]
        np.random.seed(seed)  # benderopt also draws through numpy's global generator (scipy's truncnorm)
        started = time.perf_counter()
        benderopt.minimize(loss, parameters, number_of_evaluation=budget, seed=seed)
        wall = time.perf_counter() - started
    best_value, best_params = min(seen, key=lambda pair: pair[0])
    return MemoRun(seed, len(seen), wall, best_params, best_value)


def _blur_and_compare(source: Path, target: Path, output: Path, radius: Any, sigma: Any) -> float:
    subprocess.run(["convert", str(source), "-blur", f"{radius}x{sigma}", str(output)], check=True)
    compared = subprocess.run(
        ["compare", "-metric", "rmse", str(target), str(output), "null:"], capture_output=True, text=True
    )
    # compare exits 1 when the images differ, which they always do here; 2 is a real error
    match = _NORMALISED.search(compared.stderr)
    if compared.returncode > 1 or match is None:
        raise RuntimeError(f"compare failed ({compared.returncode}): {compared.stderr.strip()}")
    return float(match.group(1))
