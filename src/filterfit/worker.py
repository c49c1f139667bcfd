"""``filterfit worker``: join a shared study from any machine and evaluate until its budget is spent.

The study's trials are the shared state: each worker proposes with an Optuna
sampler on the shared study, so it sees every process's evaluations. A study
started with a sampler strategy (``tpe``, ``cmaes``, ``qmc``, ``random``,
``gp``) is joined with that sampler (``qmc`` with the study's seed: the
processes share one Sobol sequence); ``auto`` and ``benderopt`` keep their
state inside the starting process, so workers join them with TPE (multivariate,
constant liar) while the starting process goes on with its own strategy.
Before each proposal a worker counts the study's evaluations (made, or in
flight in any process), so together they spend the budget, give or take the
evaluations in flight at the moment it runs out.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from .errors import FilterFitError
from .evaluator import Evaluator, default_workers
from .filters import as_filter
from .filters.settings_file import settings_files
from .metrics import get_metric, make_mask
from .pairs import load_pairs
from .problem import Problem
from .run import Run
from .space import Space
from .strategies import get_strategy
from .study import DefinitionError, file_sha256, mask_sha256, open_storage, open_study, stored_definition

if TYPE_CHECKING:
    from collections.abc import Callable

    from .result import FitResult
    from .run import Progress

__all__ = ["WORKER_STRATEGY", "join", "worker_strategy"]

WORKER_STRATEGY = "tpe"  # for studies whose own strategy lives in the starting process (auto, benderopt)
SAMPLER_STRATEGIES = ("tpe", "cmaes", "qmc", "random", "gp")


def worker_strategy(name: str) -> str:
    """The strategy a worker uses to join a study started with ``name``."""
    return name if name in SAMPLER_STRATEGIES else WORKER_STRATEGY


def join(
    storage: str,
    study_name: str | None = None,
    *,
    workers: int | None = None,
    images: str | Path | None = None,
    callback: Callable[[Progress], None] | None = None,
) -> FitResult:
    """Evaluate trials of a shared study until its budget is spent.

    Parameters
    ----------
    storage : str
        The study's Optuna storage URL (``postgresql://user@host/db``), or a
        journal file / ``--out`` folder on this machine.
    study_name : str, optional
        Needed when the storage holds several studies.
    workers : int, optional
        Parallel evaluations in this process (default: the number of cores).
    images : path, optional
        A folder holding this machine's copies of the images, found by file
        name; by default the paths the study was started with.

    Returns
    -------
    FitResult
        The whole study's result when this worker stops.
    """
    study = open_study(open_storage(storage), study_name, optuna.samplers.RandomSampler(), create=False)
    wanted = stored_definition(study)
    if wanted is None:
        raise DefinitionError(f"study {study.study_name!r} holds no filterfit problem: start it with filterfit fit")
    if wanted["filter_kind"] != "command":
        raise DefinitionError(
            f"study {study.study_name!r} fits a {wanted['filter']}, which a worker cannot rebuild: "
            f"workers join studies whose filter is a --command template"
        )
    pairs = [(_local(pair["source"], images), _local(pair["target"], images)) for pair in wanted["images"]]
    workers = workers or default_workers()
    space = Space.parse(wanted["space"])
    filter = as_filter(wanted["filter"], timeout=wanted["timeout"], files=settings_files(wanted.get("files")))
    filter.check(space)
    loaded = load_pairs(pairs)
    mask = _mask(wanted, loaded[0][1].pixels.shape)
    prepared = filter.prepare([s for s, _ in loaded], loaded[0][1], single_thread=workers > 1)
    problem = Problem(prepared, space, loaded, get_metric(wanted["metric"]), mask=mask)
    name = worker_strategy(wanted["strategy"])
    seed = wanted["seed"] if name == "qmc" else secrets.randbelow(2**31)  # qmc: one shared sequence
    # workers >= 2: other processes always propose alongside this one (TPE's constant liar)
    strategy = get_strategy(name, space, seed=seed, budget=wanted["budget"], workers=max(2, workers))
    study.sampler = strategy.sampler()
    run = Run(problem, strategy, study, wanted["budget"], workers, callback, wanted["stop_below"])
    with Evaluator(problem, workers) as evaluator:
        run.execute(evaluator)
    return run.result(seed, filter.describe(), lossy=any(t.lossy for _, t in loaded))


def _local(entry: dict[str, Any], folder: str | Path | None) -> Path:
    """This machine's copy of one of the study's images, checked byte for byte by its SHA-256."""
    if entry["path"] is None:
        raise DefinitionError("the study's images were given as arrays, not files: a worker cannot load them")
    stored = Path(entry["path"])
    path = Path(folder) / stored.name if folder is not None else stored
    if not path.is_file():
        hint = "" if folder is not None else ", or give --images FOLDER with copies of the study's images"
        raise DefinitionError(f"image {path} not found: copy the study's image {stored.name} to this machine{hint}")
    digest = file_sha256(path)
    if digest != entry["sha256"]:
        raise DefinitionError(
            f"image {path} differs from the study's {stored.name} (SHA-256 {digest[:12]}... here, "
            f"{entry['sha256'][:12]}... in the study): every worker needs byte-identical copies of the images"
        )
    return path


def _mask(wanted: dict[str, Any], shape: tuple[int, ...]) -> np.ndarray | None:
    """The study's border mask; a mask given as an array cannot be rebuilt here."""
    mask = make_mask(shape, border=wanted["border"])
    if mask_sha256(mask) != wanted["mask"]:
        raise FilterFitError("the study compares pixels under a mask array, which a worker cannot rebuild")
    return mask
