"""FitResult and TrialRecord: frozen records, their result.json form, and tie intervals."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from filterfit.errors import FilterFitError
from filterfit.result import RESULT_FIELDS, FitResult, TrialRecord, intervals
from filterfit.space import Space

SPACE = Space.parse(["radius=0:10", "sigma=0.1:5:log", "mode=a,b"])


def record(number: int, error: float | None, radius: float = 1.0, sigma: float = 1.0, mode: str = "a") -> TrialRecord:
    state = "fail" if error is None else "complete"
    reason = "exit code 1: no" if error is None else None
    return TrialRecord(number, {"radius": radius, "sigma": sigma, "mode": mode}, error, state, 0.01, reason)


def make_result(**changes) -> FitResult:
    history = (record(0, 0.5, radius=2.0), record(1, None, radius=9.5), record(2, 0.25, radius=3.0, mode="b"))
    fields = {
        "best_params": {"radius": 3.0, "sigma": 1.0, "mode": "b"},
        "best_error": 0.25,
        "metric": "rmse",
        "evaluations": 3,
        "failed": 1,
        "elapsed_s": 1.5,
        "strategy": "auto",
        "workers": 2,
        "budget": 3,
        "seed": 7,
        "filter": "convert {input} -blur {radius}x{sigma} {output}",
        "space": SPACE.specs(),
        "uncertainty": {"radius": [3.0, 3.0], "sigma": [1.0, 1.0]},
        "flags": {"radius": ["acts in steps"]},
        "warnings": ["the target is lossy"],
        "stopped": "budget",
        "target_lossy": True,
        "evaluation_s": 0.01,
        "history": history,
    }
    return FitResult(**{**fields, **changes})


def test_records_are_frozen():
    result = make_result()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.best_error = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.history[0].error = 0.0  # type: ignore[misc]


def test_to_dict_is_plain_json():
    data = make_result().to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["history"][1] == {
        "number": 1,
        "params": {"radius": 9.5, "sigma": 1.0, "mode": "a"},
        "error": None,
        "state": "fail",
        "seconds": 0.01,
        "reason": "exit code 1: no",
        "fidelity": None,
        "finished_s": None,
    }
    assert isinstance(data["history"], list)


def test_numpy_values_become_python_values():
    result = make_result(
        best_params={"radius": np.float64(3.0), "sigma": np.float32(1.5), "mode": np.str_("b")},
        best_error=np.float64(0.25),
        workers=np.int64(2),
        history=(TrialRecord(np.int64(0), {"radius": np.int32(3)}, np.float32(0.5), "complete"),),
    )
    data = json.loads(result.to_json())
    assert data["best_params"] == {"radius": 3.0, "sigma": 1.5, "mode": "b"}
    assert data["workers"] == 2
    assert data["history"][0]["params"] == {"radius": 3}
    assert type(result.to_dict()["best_error"]) is float


def test_non_finite_numbers_become_null():
    result = make_result(best_error=math.inf, history=(record(0, math.nan),))
    text = result.to_json()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["best_error"] is None
    assert data["history"][0]["error"] is None


def test_to_json_indent():
    result = make_result()
    assert "\n" not in result.to_json(indent=None)
    assert result.to_json().count("\n") > 10
    assert json.loads(result.to_json(indent=None)) == json.loads(result.to_json())


def test_save_and_load_round_trip(tmp_path):
    result = make_result()
    path = result.save(tmp_path / "result.json")
    assert path == tmp_path / "result.json"
    assert path.read_text(encoding="utf-8").endswith("}\n")
    loaded = FitResult.load(str(path))
    assert loaded == result
    assert isinstance(loaded.history, tuple) and isinstance(loaded.history[0], TrialRecord)


def test_load_without_optional_fields(tmp_path):
    data = make_result().to_dict()
    for name in ("uncertainty", "flags", "warnings", "stopped", "target_lossy", "evaluation_s", "history"):
        del data[name]
    path = tmp_path / "minimal.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    loaded = FitResult.load(path)
    assert loaded.history == () and loaded.stopped == "budget" and loaded.flags == {}


@pytest.mark.parametrize(
    "content",
    [
        '{"best_params": {"radius": 1',  # truncated
        "",
        "null",
        "[1, 2]",
        '"result"',
        '{"best_params": {}}',  # fields missing
        '{"unknown": 1}',
    ],
)
def test_load_rejects_what_is_not_a_result(content, tmp_path):
    path = tmp_path / "result.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FilterFitError, match=r"result\.json is not a filterfit result\.json \(.+\)$"):
        FitResult.load(path)


def test_load_rejects_a_bad_history_record(tmp_path):
    data = make_result().to_dict()
    data["history"][0]["colour"] = "red"
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FilterFitError, match=r"is not a filterfit result\.json .*colour"):
        FitResult.load(path)


def test_load_rejects_bytes_that_are_not_text(tmp_path):
    path = tmp_path / "result.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FilterFitError, match=r"is not a filterfit result\.json \(it is not UTF-8 text\)"):
        FitResult.load(path)


def test_load_a_missing_file(tmp_path):
    with pytest.raises(FilterFitError, match=r"result file not found: .*nothing\.json"):
        FitResult.load(tmp_path / "nothing.json")


def test_load_a_folder(tmp_path):
    with pytest.raises(FilterFitError, match=r"cannot read .*: Is a directory"):
        FitResult.load(tmp_path)


# --- intervals ----------------------------------------------------------------------------------


def test_intervals_span_the_evaluations_that_tie_the_best():
    history = [
        record(0, 0.1, radius=2.0, sigma=0.5),
        record(1, 0.1 + 1e-8, radius=2.5, sigma=0.7),  # within the relative 1e-6: a tie
        record(2, 0.1 * (1 - 5e-7), radius=1.5, sigma=0.6),  # better by less than the tolerance: a tie
        record(3, 0.1 + 1e-6, radius=7.0, sigma=3.0),  # 1e-5 relative: not a tie
        record(4, None, radius=9.0, sigma=4.0),
    ]
    assert intervals(history, SPACE, 0.1, "minimize") == {"radius": [1.5, 2.5], "sigma": [0.5, 0.7]}


def test_intervals_of_a_perfect_match_use_an_absolute_tolerance():
    history = [record(0, 0.0, radius=4.0), record(1, 5e-10, radius=4.5), record(2, 2e-9, radius=5.0)]
    assert intervals(history, SPACE, 0.0, "minimize")["radius"] == [4.0, 4.5]


def test_intervals_when_maximising():
    history = [record(0, 40.0, radius=3.0), record(1, 39.0, radius=5.0), record(2, 40.0, radius=3.5)]
    assert intervals(history, SPACE, 40.0, "maximize")["radius"] == [3.0, 3.5]
    assert intervals(history, SPACE, 40.0, "minimize")["radius"] == [3.0, 5.0]  # 39 is better when minimising


def test_intervals_leave_out_choices_and_missing_parameters():
    history = [TrialRecord(0, {"radius": 1}, 0.5, "complete")]
    assert intervals(history, SPACE, 0.5, "minimize") == {"radius": [1.0, 1.0]}
    assert intervals([], SPACE, 0.5, "minimize") == {}


def test_the_promised_result_fields_are_pinned_and_written():
    # DESIGN.md's result.json contract: these names never disappear.
    assert RESULT_FIELDS == (
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
    assert set(RESULT_FIELDS) <= {f.name for f in dataclasses.fields(FitResult)}
