"""The study as a fit's durable record: the problem it belongs to, and what a resumed run reuses.

Every evaluation is a trial of one Optuna study. With ``--out DIR`` the study
lives in ``DIR/study.journal`` (Optuna's JournalStorage with a file backend,
whose lock makes it safe for several local processes); with ``--storage URL``
in any Optuna storage (PostgreSQL for several machines).
:mod:`filterfit.storage` opens either (its ``open_storage`` and ``open_study``
import from here too). The study also carries the problem definition (filter,
space, metric, image hashes, budget) in its user attributes, so that a resumed
run can refuse a different problem and ``filterfit worker`` on another machine
can rebuild the same one.

Which trials count:

- COMPLETE trials and FAIL trials that were evaluated (a failing render, with
  its reason) are evaluations: they count towards the budget and a resumed
  run reuses them instead of evaluating the same parameters again;
- RUNNING trials are evaluations in flight; one whose process died on this
  host (SIGKILL, Ctrl-C) is *stale*: a resumed run evaluates it again into
  the same trial, so no proposal of the strategy is lost. On an RDB storage
  the heartbeat fails a dead worker's trial after the grace period, and a
  FAIL without an evaluation does not count.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import os
import secrets
import socket
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from .errors import FilterFitError
from .fidelity import fidelity_of
from .storage import HEARTBEAT_S, JOURNAL, open_storage, open_study  # in __all__ still: they were defined here

if TYPE_CHECKING:
    from .images import Image
    from .problem import Evaluation

__all__ = [
    "HEARTBEAT_S",
    "JOURNAL",
    "DefinitionError",
    "check_definition",
    "definition",
    "evaluation_of",
    "evaluated",
    "file_sha256",
    "open_storage",
    "open_study",
    "start_run",
    "end_run",
    "mask_sha256",
    "stale",
    "stale_trials",
    "stored_definition",
    "summary",
]

DEFINITION = "filterfit"  # the study user attribute that holds the problem definition
ORPHAN_S = 5.0  # a RUNNING trial still unsigned this long after it was asked belongs to a killed process
IDENTITY = ("filter", "files", "space", "metric", "border", "mask", "images")  # what makes two problems the same
_HOST = socket.gethostname()  # asked once: a stale-trial check runs for every running trial, every loop
_RUN_TOKEN = secrets.token_hex(4)  # this process's runs (a dead run in a live process is stale too)
_RUN_NUMBERS = itertools.count()
_LIVE_RUNS: set[str] = set()


class DefinitionError(FilterFitError, ValueError):
    """A study belongs to another problem, or a worker's images differ from the study's."""


# -- the problem definition --------------------------------------------------------


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def image_entry(image: Image) -> dict[str, Any]:
    """Where an image came from and the hash of its bytes (of its pixels when it has no file)."""
    if image.path is not None:
        return {"path": str(Path(image.path).resolve()), "sha256": file_sha256(image.path)}
    pixels = np.ascontiguousarray(image.pixels)
    return {"path": None, "sha256": hashlib.sha256(pixels.data).hexdigest() + f":{pixels.shape}"}


def definition(
    *,
    filter: Any,
    space: Any,
    metric: str,
    border: int,
    mask: np.ndarray | None,
    images: Iterable[tuple[Image, Image]],
    strategy: str,
    budget: int,
    seed: int,
    timeout: float,
    stop_below: float | None,
) -> dict[str, Any]:
    """The problem a study belongs to, as JSON-ready data (stored in the study's user attributes)."""
    from .filters.command import CommandFilter

    files = filter.files if isinstance(filter, CommandFilter) else ()
    return {
        "filter": filter.describe(),
        "filter_kind": "command" if isinstance(filter, CommandFilter) else type(filter).__name__,
        **({"files": {settings.name: settings.to_dict() for settings in files}} if files else {}),
        "space": list(space.specs()),
        "metric": metric,
        "border": border,
        "mask": mask_sha256(mask),
        "images": [{"source": image_entry(s), "target": image_entry(t)} for s, t in images],
        "strategy": strategy,
        "budget": budget,
        "seed": seed,
        "timeout": timeout,
        "stop_below": stop_below,
    }


def mask_sha256(mask: np.ndarray | None) -> str | None:
    return None if mask is None else hashlib.sha256(np.packbits(mask).data).hexdigest()


def stored_definition(study: optuna.Study) -> dict[str, Any] | None:
    return study.user_attrs.get(DEFINITION)


def check_definition(study: optuna.Study, wanted: dict[str, Any], where: str, *, strict: bool = True) -> None:
    """Store the definition in a new study; refuse a study of another problem; keep the run settings current.

    ``strict``: also refuse a study that holds trials but no definition (not
    when the caller handed over a study of their own).
    """
    stored = stored_definition(study)
    if stored is None:
        if strict and any(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False)):
            raise DefinitionError(
                f"study {study.study_name!r} in {where} holds trials but no filterfit problem: "
                f"use another --study name or --out folder"
            )
    else:
        for key in IDENTITY:
            if _identity(stored, key) != _identity(wanted, key):
                raise DefinitionError(
                    f"{where} already holds a study of another problem: its {_what(key)} differs "
                    f"(study: {_show(stored, key)}; now: {_show(wanted, key)}); "
                    f"resume with the same problem, or use a new --out folder or --study name"
                )
    if stored != wanted:
        study.set_user_attr(DEFINITION, wanted)  # budget, strategy, seed: the latest run's settings


def _identity(data: dict[str, Any], key: str) -> Any:
    if key == "images":
        return [(pair["source"]["sha256"], pair["target"]["sha256"]) for pair in data["images"]]
    if key == "files":  # the templates' text and suffix, not where they were read from
        return {name: (f["text"], f["suffix"]) for name, f in (data.get("files") or {}).items()}
    return data.get(key)


def _what(key: str) -> str:
    return {"images": "images (by SHA-256 of their bytes)", "filter": "filter", "files": "set of settings files"}.get(
        key, key
    )


def _show(data: dict[str, Any], key: str) -> str:
    if key == "images":
        return ", ".join(f"{p['source']['path']} -> {p['target']['path']}" for p in data["images"])
    if key == "files":
        files = data.get("files") or {}
        return (
            ", ".join(f"{{{name}}} from {f['origin']} ({len(f['text'])} characters)" for name, f in files.items())
            or "none"
        )
    value = data.get(key)
    return " ".join(value) if isinstance(value, list) else repr(value)


# -- trials --------------------------------------------------------------------------


def start_run() -> str:
    """A new run's owner mark for its trials: host, process and run, so that a resumed run can tell a dead owner's."""
    token = f"{_HOST}:{os.getpid()}:{_RUN_TOKEN}-{next(_RUN_NUMBERS)}"
    _LIVE_RUNS.add(token)
    return token


def end_run(token: str) -> None:
    _LIVE_RUNS.discard(token)


def stale_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's RUNNING trials that nobody will finish (see ``stale``)."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    young = [_age(t) for t in running if "owner" not in t.user_attrs and _age(t) < ORPHAN_S]
    if young:  # just asked, or asked by a process killed before it could sign: wait and see
        time.sleep(ORPHAN_S - min(young))
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return [t for t in running if stale(t)]


def _age(trial: FrozenTrial) -> float:
    start = trial.datetime_start or datetime.datetime.now()
    return (datetime.datetime.now() - start).total_seconds()


def stale(trial: FrozenTrial) -> bool:
    """A RUNNING trial whose owner died on this host, or that nobody signed for (other hosts: the heartbeat)."""
    if trial.state != TrialState.RUNNING:
        return False
    if "owner" not in trial.user_attrs:
        return _age(trial) >= ORPHAN_S
    host, _, rest = str(trial.user_attrs.get("owner", "")).partition(":")
    if host != _HOST:
        return False
    pid_text, _, token = rest.partition(":")
    pid = int(pid_text) if pid_text.isdigit() else -1
    if pid == os.getpid():
        return trial.user_attrs["owner"] not in _LIVE_RUNS
    return not _alive(pid)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def evaluated(trial: FrozenTrial) -> bool:
    """True for a trial that holds an evaluation (complete, or failed with the filter's reason)."""
    # a FAIL without the filter's reason was abandoned (the heartbeat failed a dead worker's trial)
    return trial.state == TrialState.COMPLETE or (trial.state == TrialState.FAIL and "reason" in trial.user_attrs)


class Tally:
    """Evaluations made or in flight (what the budget counts), the best loss so far, and the stale trials.

    The best is that of the trials scored on the same pixels (their
    ``fidelity``, see :mod:`filterfit.fidelity`): a crop's or a preview's
    error is not the whole image's. A finished trial never changes, so each
    is counted once: :meth:`update` looks again only at the trials from the
    first one still unfinished on (the few in flight, and the new). Looking at
    every trial each time was quadratic: 0.7 s of a 500-evaluation look fit.
    """

    def __init__(self, fidelity: str | None = None) -> None:
        self.fidelity = fidelity
        self._settled = 0  # every trial numbered below this is finished and counted
        self._spent = 0  # evaluations among them
        self._best: float | None = None  # the best loss among them, at this fidelity

    def update(self, study: optuna.Study) -> tuple[int, float | None, list[FrozenTrial]]:
        """``(spent, best loss, stale trials)`` of the study as it is now."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fail_stale_trials is experimental in some Optuna versions
            optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        spent, best, stale_trials = self._spent, self._best, []
        settling = True
        for trial in trials[self._settled :]:
            finished = trial.state.is_finished()
            spent += trial.state == TrialState.RUNNING or evaluated(trial)
            best = self._better(best, trial)
            if stale(trial):
                stale_trials.append(trial)
            if settling and finished:  # the settled prefix grows past it: counted for good
                self._settled, self._spent, self._best = trial.number + 1, spent, best
            settling = settling and finished
        return spent, best, stale_trials

    def _better(self, best: float | None, trial: FrozenTrial) -> float | None:
        if trial.state != TrialState.COMPLETE or trial.value is None or fidelity_of(trial.user_attrs) != self.fidelity:
            return best
        return trial.value if best is None else min(best, trial.value)


def summary(study: optuna.Study) -> dict[str, Any]:
    """Where a (shared) study stands: its problem, its trials by state, its best evaluation so far."""
    trials = study.get_trials(deepcopy=False)
    wanted = stored_definition(study) or {}
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    best = min(complete, key=lambda t: t.value) if complete else None  # type: ignore[arg-type, return-value]
    return {
        "study": study.study_name,
        **{key: wanted.get(key) for key in ("filter", "space", "metric", "strategy", "budget")},
        "evaluations": sum(evaluated(t) for t in trials),
        "complete": len(complete),
        "failed": sum(t.state == TrialState.FAIL and evaluated(t) for t in trials),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "abandoned": sum(t.state == TrialState.FAIL and not evaluated(t) for t in trials),
        "processes": len({str(t.user_attrs.get("owner")) for t in trials if "owner" in t.user_attrs}),
        "best_error": None if best is None else best.user_attrs.get("error", best.value),
        "best_params": None if best is None else dict(best.params),
    }


def evaluation_of(trial: FrozenTrial) -> Evaluation:
    """The evaluation a finished trial recorded (its error and render hash; the study keeps no residuals)."""
    from .problem import Evaluation

    attrs = trial.user_attrs
    seconds = float(attrs.get("seconds", 0.0))
    if trial.state != TrialState.COMPLETE:
        return Evaluation(dict(trial.params), reason=attrs.get("reason", "failed"), seconds=seconds)
    return Evaluation(
        dict(trial.params),
        value=attrs.get("error", trial.value),
        loss=trial.value,
        output_hash=attrs.get("hash"),
        seconds=seconds,
    )
