"""What a fit returns: frozen records, and their result.json form."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import FilterFitError
from .fidelity import fidelity_of

if TYPE_CHECKING:
    from .problem import Evaluation
    from .space import Space

__all__ = ["RESULT_FIELDS", "FitResult", "TrialRecord", "intervals"]

# The result.json fields DESIGN.md promises: other tools may rely on them, so they only ever grow.
RESULT_FIELDS = (
    "best_params",
    "best_error",
    "metric",
    "evaluations",
    "failed",
    "elapsed_s",
    "strategy",
    "workers",
    "uncertainty",
    "flags",
    "history",
)


@dataclass(frozen=True)
class TrialRecord:
    """One evaluation as the study recorded it."""

    number: int
    params: dict[str, Any]
    error: float | None  # the metric's value; None for a failed evaluation
    state: str  # "complete" or "fail"
    seconds: float = 0.0
    reason: str | None = None
    fidelity: str | None = None  # the reduced pixels it was scored on ("crop WxH+X+Y", "preview 1/2"); None: the whole
    finished_s: float | None = None  # seconds from the start of the fit to the end of this evaluation

    @classmethod
    def of(cls, number: int, evaluation: Evaluation, **facts: Any) -> TrialRecord:
        """The record of trial ``number``'s evaluation, with facts such as ``fidelity`` or ``finished_s``."""
        return cls(
            number=number,
            params=dict(evaluation.params),
            error=evaluation.value,
            state="complete" if evaluation.ok else "fail",
            seconds=round(evaluation.seconds, 4),
            reason=evaluation.reason,
            **facts,
        )


@dataclass(frozen=True)
class FitResult:
    """The answer of a fit and how it was reached (the fields of result.json)."""

    best_params: dict[str, Any]
    best_error: float
    metric: str
    evaluations: int
    failed: int
    elapsed_s: float
    strategy: str
    workers: int
    budget: int
    seed: int
    filter: str
    space: list[str]
    uncertainty: dict[str, list[float]] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    stopped: str = "budget"  # "budget", "exact" (the ideal error was reached), "interrupted", "exhausted"
    target_lossy: bool = False
    evaluation_s: float = 0.0  # median seconds of one evaluation
    history: tuple[TrialRecord, ...] = ()
    look: dict[str, Any] | None = None  # a fitted Look.to_dict(): what `filterfit apply` rebuilds it from
    probes: tuple[TrialRecord, ...] = ()  # evaluations after the search that measured the uncertainty
    tolerance: float | None = None  # how far above the best error the uncertainty intervals reach
    sources: list[str | None] = field(default_factory=list)  # absolute paths, for `filterfit report`
    targets: list[str | None] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # filterfit's and ImageMagick's
    renders: int = 0  # renders this run made in all: evaluations, probes, best.png, and `replayed`
    replayed: int = 0  # renders a resumed run made again for its strategy (the study keeps no residuals)
    reference: dict[str, Any] | None = None  # what a reference of another scene told (look/reference.py's Reading)
    files: dict[str, dict[str, str]] = field(default_factory=dict)  # a command's settings files: {name: template}
    editor: dict[str, Any] | None = None  # a photo editor's sliders (editors/): {"name": ..., "sliders": [...]}

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict: its deep copies took 50 ms for 500 evaluations; _clean copies what it walks
        data = _clean(
            {f.name: getattr(self, f.name) for f in dataclass_fields(self) if f.name not in ("history", "probes")}
        )
        data["history"] = [_record_dict(record) for record in self.history]
        data["probes"] = [_record_dict(record) for record in self.probes]
        return data

    def to_json(self, *, indent: int | None = 1) -> str:
        """The result as JSON; indented, each evaluation of ``history`` and ``probes`` is one line.

        One line an evaluation reads well and is written by json's C encoder: an
        indented dump of 500 evaluations took 50 ms, most of what result.json cost.
        """
        data = self.to_dict()
        if indent is None:
            return json.dumps(data)
        lists = {key: data.pop(key) for key in ("history", "probes")}
        head = json.dumps(data, indent=indent)[: -len("\n}")]
        pad = " " * indent
        for key, records in lists.items():
            lines = f",\n{pad * 2}".join(json.dumps(record) for record in records)
            head += f',\n{pad}"{key}": [' + (f"\n{pad * 2}{lines}\n{pad}]" if records else "]")
        return head + "\n}"

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        """Read a result.json written by :meth:`save`; FilterFitError names what is wrong with a damaged one."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FilterFitError(f"result file not found: {path} (check the path)") from None
        except OSError as error:  # a folder, no permission ...
            raise FilterFitError(f"cannot read {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise FilterFitError(f"{path} is not a filterfit result.json (it is not UTF-8 text)") from None
        if not text.strip():
            raise FilterFitError(f"{path} is not a filterfit result.json (the file is empty)")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise FilterFitError(f"{path} is not a filterfit result.json (not JSON: {error})") from None
        problem = _shape_problem(data)
        if problem is not None:
            raise FilterFitError(f"{path} is not a filterfit result.json ({problem})")
        history = tuple(_record(record) for record in data.pop("history", []))
        probes = tuple(_record(record) for record in data.pop("probes", []))
        return cls(**data, history=history, probes=probes)


# What each field of result.json must hold, for the fields the commands read.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "best_params": (dict,),
    "best_error": (int, float, type(None)),  # None: a non-finite error, as _clean writes it
    "metric": (str,),
    "evaluations": (int,),
    "failed": (int,),
    "elapsed_s": (int, float),
    "strategy": (str,),
    "workers": (int,),
    "budget": (int,),
    "seed": (int,),
    "filter": (str,),
    "space": (list,),
    "uncertainty": (dict,),
    "flags": (dict,),
    "warnings": (list,),
    "history": (list,),
    "probes": (list,),
    "look": (dict, type(None)),
    "stopped": (str,),
    "target_lossy": (bool,),
    "evaluation_s": (int, float),
    "tolerance": (int, float, type(None)),
    "sources": (list,),
    "targets": (list,),
    "versions": (dict,),
    "renders": (int,),
    "replayed": (int,),
}
_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int,),
    "params": (dict,),
    "error": (int, float, type(None)),
    "state": (str,),
}


def _shape_problem(data: Any) -> str | None:
    """What keeps parsed JSON from being a result.json, in a few words; None when it is one."""
    if not isinstance(data, dict):
        return f"a JSON object is expected, but got {_json_kind(data)}"
    fields = {f.name for f in dataclass_fields(FitResult)}
    required = [f.name for f in dataclass_fields(FitResult) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        return f"it has no {', '.join(missing)}"
    unknown = sorted(set(data) - fields)
    if unknown:
        return f"unknown fields {', '.join(unknown)}: written by a newer filterfit? upgrade this one"
    for name, types in _FIELD_TYPES.items():
        if name in data and not _holds(data[name], types):
            return f"{name} must be {_kind(types)}, but got {json.dumps(data[name])[:60]}"
    return _contents_problem(data) or _space_problem(data) or _records_problem(data)


def _contents_problem(data: dict[str, Any]) -> str | None:
    """The insides of the lists and objects that the report and the table print."""
    strings = (str,)
    checks = {
        "space": (all(isinstance(spec, str) for spec in data["space"]), "a list of --param strings"),
        "uncertainty": (
            all(_is_interval(v) for v in data.get("uncertainty", {}).values()),
            "an object of [low, high] pairs",
        ),
        "flags": (
            all(_is_list_of(v, strings) for v in data.get("flags", {}).values()),
            "an object of lists of strings",
        ),
        "warnings": (_is_list_of(data.get("warnings", []), strings), "a list of strings"),
        "sources": (_is_list_of(data.get("sources", []), (str, type(None))), "a list of paths or nulls"),
        "targets": (_is_list_of(data.get("targets", []), (str, type(None))), "a list of paths or nulls"),
    }
    for name, (ok, kind) in checks.items():
        if not ok:
            return f"{name} must be {kind}, but got {json.dumps(data[name])[:60]}"
    return None


def _space_problem(data: dict[str, Any]) -> str | None:
    """Each space entry parses, and each numeric parameter's best value is a number."""
    from .space import parse_param

    for spec in data["space"]:
        try:
            param = parse_param(spec)
        except FilterFitError as error:
            return f"its space entry {spec!r} is malformed: {error}"
        best = data["best_params"].get(param.name)
        if param.numeric and best is not None and not _holds(best, (int, float)):
            return f"the best value of {param.name} ({spec}) must be a number, but got {json.dumps(best)[:40]}"
    return None


def _records_problem(data: dict[str, Any]) -> str | None:
    for name in ("history", "probes"):
        for record in data.get(name, []):
            problem = _record_problem(record)
            if problem is not None:
                return f"an entry of {name} {problem}"
    return None


def _is_list_of(value: Any, types: tuple[type, ...]) -> bool:
    return isinstance(value, list) and all(_holds(item, types) for item in value)


def _is_interval(value: Any) -> bool:
    return _is_list_of(value, (int, float)) and len(value) == 2


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"must be an object, but got {json.dumps(record)[:60]}"
    fields = {f.name for f in dataclass_fields(TrialRecord)} | _OLDER_RECORD_FIELDS
    missing = [name for name in _RECORD_TYPES if name not in record]
    unknown = sorted(set(record) - fields)
    if missing or unknown:
        return f"has no {', '.join(missing)}" if missing else f"has unknown fields {', '.join(unknown)}"
    for name, types in _RECORD_TYPES.items():
        if not _holds(record[name], types):
            return f"has {name} {json.dumps(record[name])[:40]}, which is not {_kind(types)}"
    return None


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _holds(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # JSON true is not a number, though Python's bool is an int
        return bool in types
    return isinstance(value, types)


def _kind(types: tuple[type, ...]) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null"}
    number = "a number" if float in types else "an integer" if int in types else None
    words = ([number] if number else []) + [names[t] for t in types if t in names]
    return " or ".join(words)


_OLDER_RECORD_FIELDS = {"crop", "scale"}  # what a record said before ``fidelity`` (see fidelity_of)


def _record_dict(record: TrialRecord) -> dict[str, Any]:
    """One evaluation as a plain, JSON-safe dict."""
    return _clean({f.name: getattr(record, f.name) for f in dataclass_fields(record)})


def _record(data: dict[str, Any]) -> TrialRecord:
    """A history record of result.json, written with ``fidelity`` or with the older ``crop`` and ``scale``."""
    fields = {name: value for name, value in data.items() if name not in _OLDER_RECORD_FIELDS}
    return TrialRecord(**{**fields, "fidelity": fidelity_of(data)})


def _clean(value: Any) -> Any:
    """Make a value JSON-safe: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def intervals(
    history: Sequence[TrialRecord], space: Space, best_error: float, direction: str
) -> dict[str, list[float]]:
    """For each numeric parameter, the range of evaluated values whose error ties the best.

    "Ties" means within a relative 1e-6 of the best (or 1e-9 absolute): renders
    the metric cannot tell apart. Issue-5 style probing can widen these.
    """
    tolerance = max(1e-9, abs(best_error) * 1e-6)
    sign = 1 if direction == "minimize" else -1
    close = [  # evaluations on a crop or a preview scored other pixels: their errors do not compare
        r for r in history if r.error is not None and r.fidelity is None and sign * (r.error - best_error) <= tolerance
    ]
    result: dict[str, list[float]] = {}
    for param in space.numeric:
        values = [float(r.params[param.name]) for r in close if param.name in r.params]
        if values:
            result[param.name] = [min(values), max(values)]
    return result
