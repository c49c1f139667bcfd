"""The output folder: result.json, best.png, diff.png, convergence.png and the study's journal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest

import filterfit
from filterfit.errors import FilterFitError
from filterfit.images import load_image, save_image
from filterfit.outputs import DIFF_GAIN, difference_image, prepare_folder
from filterfit.result import RESULT_FIELDS, FitResult

SPACE = {"gain": (0.5, 2.0), "offset": (-0.2, 0.2)}
TRUTH = {"gain": 1.2, "offset": -0.05}


def linear(image: np.ndarray, gain: float, offset: float) -> np.ndarray:
    return np.clip(image * gain + offset, 0, 1)


def fragile(image: np.ndarray, gain: float, offset: float) -> np.ndarray:
    if gain > 1.5:
        raise ValueError("gain above 1.5")
    return linear(image, gain, offset)


@pytest.fixture
def files(small_pixels: np.ndarray, tmp_path: Path) -> tuple[Path, Path]:
    """An 8-bit source and a target that is ``linear`` of it with TRUTH."""
    source = save_image(small_pixels, tmp_path / "source.png")
    target = save_image(linear(small_pixels, **TRUTH), tmp_path / "target.png")
    return source, target


def run(source, target, out: Path, *, function=linear, **options) -> FitResult:
    options = {"strategy": "random", "budget": 12, "workers": 1, "seed": 0, **options}
    return filterfit.fit(function, SPACE, source, target, out=out, **options)


def test_the_folder_holds_every_output(files, tmp_path):
    out = tmp_path / "nested" / "out"
    run(*files, out)
    names = {path.name for path in out.iterdir()}
    assert names == {
        "result.json",
        "best.png",
        "diff.png",
        "convergence.png",
        "report.html",
        "study.journal",
        "study.journal.flock",
    }


def test_result_json_has_the_design_fields(files, tmp_path):
    result = run(*files, tmp_path / "out", function=fragile, budget=30)
    data = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))
    assert set(RESULT_FIELDS) <= set(data)
    assert data["best_params"] == result.best_params
    assert set(data["best_params"]) == {"gain", "offset"}
    assert data["best_error"] == result.best_error
    assert data["metric"] == "rmse"
    assert data["evaluations"] == 30 == len(data["history"])
    assert data["failed"] == sum(record["state"] == "fail" for record in data["history"]) > 0
    assert data["strategy"] == "random"
    assert data["workers"] == 1
    assert isinstance(data["elapsed_s"], float) and data["elapsed_s"] > 0
    assert set(data["uncertainty"]) == {"gain", "offset"}
    low, high = data["uncertainty"]["gain"]
    assert low <= data["best_params"]["gain"] <= high
    assert isinstance(data["flags"], dict)
    for number, record in enumerate(data["history"]):
        assert {"number", "params", "error", "state"} <= set(record)
        assert record["number"] == number
        assert set(record["params"]) == {"gain", "offset"}
        assert record["state"] in ("complete", "fail")
        assert (record["error"] is None) == (record["state"] == "fail")
        assert (record["reason"] is not None) == (record["state"] == "fail")
    assert min(r["error"] for r in data["history"] if r["error"] is not None) == data["best_error"]


def test_result_json_loads_back_equal(files, tmp_path):
    result = run(*files, tmp_path / "out", function=fragile, budget=20)
    assert FitResult.load(tmp_path / "out" / "result.json") == result


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_best_png_has_the_targets_bit_depth(bit_depth, small_pixels, tmp_path):
    source = save_image(small_pixels, tmp_path / "source.png", bit_depth=bit_depth)
    target = save_image(linear(small_pixels, **TRUTH), tmp_path / "target.png", bit_depth=bit_depth)
    result = run(source, target, tmp_path / "out")
    best = load_image(tmp_path / "out" / "best.png")
    assert best.bit_depth == bit_depth
    assert best.pixels.shape == small_pixels.shape
    render = linear(load_image(source).pixels, **result.best_params)
    level = 1 / ((1 << bit_depth) - 1)
    assert np.abs(best.pixels - render).max() <= level / 2 + 1e-6  # the render, rounded once


def test_best_png_of_a_16_bit_array_target(small_pixels, tmp_path):
    target = np.rint(linear(small_pixels, **TRUTH) * 65535).astype(np.uint16)
    run(small_pixels, target, tmp_path / "out")
    assert load_image(tmp_path / "out" / "best.png").bit_depth == 16


def test_diff_png_is_the_amplified_difference(files, tmp_path):
    run(*files, tmp_path / "out")
    best = load_image(tmp_path / "out" / "best.png").pixels
    target = load_image(files[1]).pixels
    diff = load_image(tmp_path / "out" / "diff.png")
    assert diff.bit_depth == 8
    expected = np.clip(np.abs(best - target) * 20, 0, 1)
    assert np.abs(diff.pixels - expected).max() <= 1 / 255 + 1e-6
    assert diff.pixels.max() > 0  # 12 random draws do not hit the answer: there is something to see


def test_difference_image():
    best = np.array([[[0.5, 0.5, 0.5]]], dtype=np.float32)
    target = np.array([[[0.5, 0.49, 0.0]]], dtype=np.float32)
    diff = difference_image(best, target)
    assert DIFF_GAIN == 20
    assert diff.dtype == np.float32
    np.testing.assert_allclose(diff, [[[0.0, 0.2, 1.0]]], atol=1e-6)  # clipped at 1
    np.testing.assert_allclose(difference_image(best, target, gain=1), [[[0.0, 0.01, 0.5]]], atol=1e-6)


def test_convergence_png_is_a_picture(files, tmp_path):
    run(*files, tmp_path / "out")
    picture = load_image(tmp_path / "out" / "convergence.png")
    assert picture.pixels.shape[:2] == (400, 1200)  # against evaluations and against seconds
    assert picture.pixels.std() > 0.01


def test_the_journal_holds_the_study(files, tmp_path):
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    result = run(*files, tmp_path / "out", function=fragile, budget=25)
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "out" / "study.journal")))
    (name,) = optuna.get_all_study_names(storage)
    assert name.startswith("filterfit-")
    trials = optuna.load_study(study_name=name, storage=storage).trials
    assert len(trials) == 25
    assert [t.params for t in trials] == [r.params for r in result.history]
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) == result.failed > 0
    assert all(t.user_attrs["reason"] == "ValueError: gain above 1.5" for t in failed)


def test_a_named_study_in_the_folder_resumes(files, tmp_path):
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    for budget in (5, 5, 8):  # the budget counts the study's evaluations, earlier runs' included
        result = run(*files, tmp_path / "out", budget=budget, study_name="mine")
        assert result.evaluations == budget
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "out" / "study.journal")))
    assert len(optuna.load_study(study_name="mine", storage=storage).trials) == 8


def test_several_pairs_get_numbered_images(small_pixels, tmp_path):
    other = np.ascontiguousarray(small_pixels[::-1])
    pairs = [(small_pixels, linear(small_pixels, **TRUTH)), (other, linear(other, **TRUTH))]
    filterfit.fit(linear, SPACE, pairs=pairs, strategy="random", budget=4, workers=1, out=tmp_path / "out")
    names = {path.name for path in (tmp_path / "out").iterdir()}
    assert {"best-1.png", "best-2.png", "diff-1.png", "diff-2.png"} <= names
    assert "best.png" not in names
    assert (
        np.abs(
            load_image(tmp_path / "out" / "best-2.png").pixels[::-1]
            - load_image(tmp_path / "out" / "best-1.png").pixels
        ).max()
        < 1e-6
    )


def test_a_best_that_fails_to_render_again_still_leaves_the_json(files, tmp_path):
    calls = []

    def flaky(image, gain, offset):
        calls.append(gain)
        if len(calls) > 6:
            raise RuntimeError("the program broke")
        return linear(image, gain, offset)

    result = run(*files, tmp_path / "out", function=flaky, budget=6, probes=0)
    assert len(calls) == 7  # six evaluations and the failed re-render of the best
    names = {path.name for path in (tmp_path / "out").iterdir()}
    assert {"result.json", "convergence.png"} <= names
    assert "best.png" not in names and "diff.png" not in names
    assert FitResult.load(tmp_path / "out" / "result.json") == result


def test_out_that_is_a_file_fails_before_any_evaluation(files, tmp_path):
    calls = []

    def counted(image, gain, offset):
        calls.append(gain)
        return linear(image, gain, offset)

    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    with pytest.raises(FilterFitError, match=r"--out .*taken is a file, not a folder: choose another path"):
        run(*files, blocker, function=counted)
    assert calls == []
    assert blocker.read_text() == "not a folder"


def test_an_out_folder_that_cannot_be_made(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FilterFitError, match=r"cannot write to the output folder .*file/sub: "):
        prepare_folder(tmp_path / "file" / "sub")


def test_prepare_folder_accepts_an_existing_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("kept")
    assert prepare_folder(tmp_path) == tmp_path
    assert prepare_folder(str(tmp_path / "a" / "b")).is_dir()
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["keep.txt"]  # the write probe is gone


def test_a_corrupt_result_json_is_a_filterfit_error(files, tmp_path):
    run(*files, tmp_path / "out")
    path = tmp_path / "out" / "result.json"
    path.write_text(path.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    with pytest.raises(FilterFitError, match=r"result\.json is not a filterfit result\.json \("):
        FitResult.load(path)
