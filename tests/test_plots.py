"""Plots: the data of the convergence plot (checked exactly), and its drawing (checked loosely)."""

from __future__ import annotations

import numpy as np
import pytest

from filterfit.images import load_image
from filterfit.plots import convergence_data, draw_convergence, draw_pairwise, draw_slices, pairwise_data, slice_data
from filterfit.result import TrialRecord
from filterfit.space import Param


def record(number: int, error: float | None, finished: float | None = None) -> TrialRecord:
    return TrialRecord(number, {"x": number}, error, "fail" if error is None else "complete", finished_s=finished)


# Deliberately out of order: parallel workers finish in any order, the plot goes by trial number.
HISTORY = [record(2, 0.5), record(0, 0.8), record(1, None), record(4, 0.3), record(3, 0.9), record(5, None)]


def test_convergence_data_tracks_the_best_so_far():
    data = convergence_data(HISTORY)
    assert data == {
        "numbers": [0, 2, 3, 4],
        "errors": [0.8, 0.5, 0.9, 0.3],
        "best": [0.8, 0.5, 0.5, 0.3],
        "failed": [1, 5],
        "seconds": [None] * 4,  # histories of old result.json files have no times
        "failed_seconds": [None, None],
    }


def test_convergence_data_has_the_time_of_each_evaluation():
    timed = [record(1, None, 0.4), record(0, 0.5, 0.3), record(2, 0.2, 0.9)]
    data = convergence_data(timed)
    assert data["seconds"] == [0.3, 0.9] and data["failed_seconds"] == [0.4]
    assert data["best"] == [0.5, 0.2]


def test_convergence_data_when_maximising():
    data = convergence_data(HISTORY, "maximize")
    assert data["best"] == [0.8, 0.8, 0.9, 0.9]
    assert data["numbers"] == [0, 2, 3, 4] and data["failed"] == [1, 5]


def test_convergence_data_of_nothing_and_of_failures_only():
    empty = {"numbers": [], "errors": [], "best": [], "failed": [], "seconds": [], "failed_seconds": []}
    assert convergence_data([]) == empty
    assert convergence_data([record(1, None), record(0, None)]) == {
        **empty,
        "failed": [0, 1],
        "failed_seconds": [None] * 2,
    }


def test_convergence_data_keeps_a_zero_error():
    data = convergence_data([record(0, 0.2), record(1, 0.0), record(2, 0.1)])
    assert data["best"] == [0.2, 0.0, 0.0]


@pytest.mark.parametrize(
    "history",
    [
        pytest.param(HISTORY, id="mixed"),
        pytest.param([record(0, 0.4), record(1, 0.0)], id="zero error: linear axis"),
        pytest.param([record(0, None), record(1, None)], id="failures only"),
        pytest.param([], id="empty"),
    ],
)
def test_draw_convergence_writes_a_png(history, tmp_path):
    import matplotlib.pyplot as plt

    path = draw_convergence(convergence_data(history), tmp_path / "convergence.png", metric="rmse")
    assert path == tmp_path / "convergence.png"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    picture = load_image(path)
    assert picture.pixels.shape[:2] == (400, 700)  # 7 x 4 inches at 100 dpi
    assert picture.pixels.shape[2] in (3, 4)
    assert np.ptp(picture.pixels[:, :, :3]) > 0.5  # axes and labels on a white background
    assert plt.get_fignums() == []  # the figure was closed


def test_draw_convergence_accepts_a_string_path(tmp_path):
    path = draw_convergence(convergence_data(HISTORY), str(tmp_path / "plot.png"))
    assert path.is_file()


def test_draw_convergence_against_time_too(tmp_path):
    timed = [record(0, 0.5, 0.3), record(1, None, 0.4), record(2, 0.2, 0.9)]
    picture = load_image(draw_convergence(convergence_data(timed), tmp_path / "c.png"))
    assert picture.pixels.shape[:2] == (400, 1200)  # two panels: evaluations and seconds


PARAMS = {"a": Param("a", 0, 10), "b": Param("b", 0, 100)}


def evaluation(number: int, a: float, b: float, error: float | None) -> TrialRecord:
    return TrialRecord(number, {"a": a, "b": b}, error, "fail" if error is None else "complete")


SAMPLES = [evaluation(0, 5, 50, 0.1), evaluation(1, 6, 52, 0.2), evaluation(2, 6, 90, 0.4), evaluation(3, 1, 1, None)]


def test_slice_data_marks_the_evaluations_near_the_optimum():
    data = slice_data(SAMPLES, "a", {"a": 5, "b": 50}, PARAMS, [4.5, 5.5])
    assert data["values"] == [5, 6, 6] and data["errors"] == [0.1, 0.2, 0.4]
    assert data["near"] == [True, True, False]  # b=52 is within 5 % of its range of 50; b=90 is not
    assert data["best"] == 5 and data["interval"] == [4.5, 5.5]
    assert (data["low"], data["high"], data["log"]) == (0, 10, False)


def test_pairwise_data_pairs_the_values_with_the_error():
    data = pairwise_data(SAMPLES, "a", "b", {"a": 5, "b": 50})
    assert data == {"names": ["a", "b"], "x": [5, 6, 6], "y": [50, 52, 90], "errors": [0.1, 0.2, 0.4], "best": [5, 50]}


def test_draw_slices_and_pairwise_write_pngs(tmp_path):
    slices = [slice_data(SAMPLES, name, {"a": 5, "b": 50}, PARAMS) for name in PARAMS]
    picture = load_image(draw_slices(slices, tmp_path / "s.png"))
    assert picture.pixels.shape[:2] == (360, 800)  # one 4-inch panel per parameter
    pairs = [pairwise_data(SAMPLES, "a", "b", {"a": 5, "b": 50})]
    assert np.ptp(load_image(draw_pairwise(pairs, tmp_path / "p.png")).pixels) > 0.5
