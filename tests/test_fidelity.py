"""One notion of fidelity: the trial attribute, its older spellings, and the kind chosen from the filter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import filterfit
from filterfit.fidelity import describe, fidelity_of
from filterfit.result import FitResult


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({}, None),
        ({"fidelity": "crop 768x768+16+16"}, "crop 768x768+16+16"),
        ({"fidelity": "preview 1/3"}, "preview 1/3"),
        ({"crop": "320x320+96+96"}, "crop 320x320+96+96"),  # a study recorded before the one attribute
        ({"scale": 0.5}, "preview 1/2"),
        ({"crop": None, "scale": 1.0}, None),  # result.json's history wrote both, for every evaluation
    ],
)
def test_a_trials_fidelity_is_read_from_its_attribute_or_the_older_crop_and_scale(attrs, expected):
    assert fidelity_of(attrs) == expected


def test_a_fidelity_reads_as_words():
    assert describe("crop 768x768+16+16") == "the 768x768+16+16 crop"
    assert describe("preview 1/2") == "a preview of every 2nd pixel"
    assert describe("preview 1/3") == "a preview of every 3rd pixel"


def test_a_result_json_written_with_crop_and_scale_is_read_with_one_fidelity(tmp_path: Path):
    result = filterfit.fit(lambda pixels, gain: pixels * gain, ["gain=0:2"], _photo(64), _photo(64) * 0.5, budget=5)
    data = result.to_dict()
    for record, old in zip(data["history"], [{"crop": "40x40+12+12", "scale": 1.0}, {"crop": None, "scale": 0.5}]):
        del record["fidelity"]
        record.update(old)
    (tmp_path / "result.json").write_text(json.dumps(data))
    history = FitResult.load(tmp_path / "result.json").history
    assert [record.fidelity for record in history[:3]] == ["crop 40x40+12+12", "preview 1/2", None]


class _Gain:
    """A per-pixel filter of the caller's own: it says so, and fit() searches a preview of its images first."""

    per_pixel = True

    def render(self, image, params):
        return np.clip(image.pixels * params["gain"], 0, 1)

    def check(self, space):
        pass

    def prepare(self, sources, target, *, single_thread):
        return self

    def describe(self):
        return "gain"


def test_a_filter_that_says_it_is_per_pixel_is_searched_on_a_preview_and_confirmed_whole():
    source = _photo(512)
    result = filterfit.fit(_Gain(), ["gain=0:2"], source, source * 0.6, budget=40, workers=1, seed=0, probes=0)
    fidelities = [record.fidelity for record in result.history]
    assert fidelities[0] == "preview 1/2" and fidelities[-1] is None
    assert 1 <= fidelities.count(None) <= 4  # the preview's best candidates, confirmed on the whole photo
    assert result.best_error == min(r.error for r in result.history if r.fidelity is None)
    assert result.best_params["gain"] == pytest.approx(0.6, abs=1e-3)


def test_a_filter_that_does_not_say_it_is_per_pixel_is_spatial_and_gets_a_crop_not_a_preview():
    class Spatial(_Gain):
        per_pixel = False

    source = _photo(512)
    result = filterfit.fit(Spatial(), ["gain=0:2"], source, source * 0.6, budget=20, workers=1, seed=0, probes=0)
    assert {record.fidelity for record in result.history} == {"crop 320x320+96+96", None}  # auto's scan of a crop
    searched = filterfit.fit(
        Spatial(), ["gain=0:2"], source, source * 0.6, budget=20, workers=1, seed=0, probes=0, crop=False
    )
    assert {record.fidelity for record in searched.history} == {None}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["crop", "preview"])
def test_a_study_recorded_with_crop_and_scale_attributes_resumes_as_the_same_fidelity(kind, tmp_path: Path):
    """A journal from before the one attribute: its reduced-fidelity trials count as the same pixels on resume.

    The run is recorded, its journal rewritten to the older spelling, and the same fit run again on it:
    nothing new is evaluated, and the answer is the same.
    """
    options = {"workers": 1, "seed": 0, "probes": 0, "out": tmp_path / "out"}
    source = _photo(512)
    if kind == "crop":  # auto scans a 320x320 crop of a 512x512 photo first
        arguments = (lambda pixels, gain: pixels * gain, ["gain=0:2"], source, source * 0.6)
        options["budget"] = 30
    else:
        arguments = (_Gain(), ["gain=0:2"], source, source * 0.6)
        options["budget"] = 20
    first = filterfit.fit(*arguments, **options)
    assert any(record.fidelity is not None for record in first.history)
    journal = tmp_path / "out" / "study.journal"
    text = journal.read_text()
    old = text.replace('{"fidelity":"crop ', '{"crop":"').replace('{"fidelity":"preview 1/2"}', '{"scale":0.5}')
    assert old != text and '"fidelity"' not in old
    journal.write_text(old)
    again = filterfit.fit(*arguments, **options)
    assert again.evaluations == first.evaluations
    assert again.best_params == first.best_params and again.best_error == first.best_error
    assert [r.fidelity for r in again.history] == [r.fidelity for r in first.history]


def _photo(side: int) -> np.ndarray:
    """A textured photo-like image of side x side pixels."""
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:side, 0:side] / side
    base = np.stack([rows, columns, (rows + columns) / 2], axis=2)
    return np.clip(0.2 + 0.6 * base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32)
