"""The machine and the library versions a report's figures were measured with."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

import filterfit

REPOSITORY = Path(__file__).resolve().parent.parent
LIBRARIES = ("optuna", "numpy", "scipy", "scikit-image", "nevergrad", "benderopt", "cmaes", "torch")


def rows() -> list[tuple[str, str]]:
    """The CPU, the system, and the version of everything the figures depend on."""
    return [
        ("CPU", f"{_cpu_model()}, {os.cpu_count()} cores ({filterfit.evaluator.default_workers()} usable)"),
        ("system", f"{platform.system()} {platform.release()}, {_memory()}"),
        ("Python", platform.python_version()),
        ("filterfit", f"{filterfit.__version__} ({_git_revision()})"),
        *((name, _version(name)) for name in LIBRARIES),
        ("ImageMagick", _first_line(["convert", "-version"]).removeprefix("Version: ")),
    ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        return f"{kib / 2**20:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        return "memory unknown"


def _git_revision() -> str:
    head = _first_line(["git", "-C", str(REPOSITORY), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(REPOSITORY), "status", "--porcelain", "--untracked-files=no", "src"])
    return f"commit {head}" + (", with uncommitted changes in src/" if dirty else "")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _first_line(argv: list[str]) -> str:
    try:
        lines = subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()
    except OSError:
        return "unknown"
    return lines[0].strip() if lines else ""
