"""Plots: the data of the convergence plot (checked exactly), and its drawing (checked loosely)."""

from __future__ import annotations

import numpy as np
import pytest

from filterfit.images import load_image
from filterfit.plots import convergence_data, draw_convergence
from filterfit.result import TrialRecord


def record(number: int, error: float | None) -> TrialRecord:
    return TrialRecord(number, {"x": number}, error, "fail" if error is None else "complete")


# Deliberately out of order: parallel workers finish in any order, the plot goes by trial number.
HISTORY = [record(2, 0.5), record(0, 0.8), record(1, None), record(4, 0.3), record(3, 0.9), record(5, None)]


def test_convergence_data_tracks_the_best_so_far():
    data = convergence_data(HISTORY)
    assert data == {
        "numbers": [0, 2, 3, 4],
        "errors": [0.8, 0.5, 0.9, 0.3],
        "best": [0.8, 0.5, 0.5, 0.3],
        "failed": [1, 5],
    }


def test_convergence_data_when_maximising():
    data = convergence_data(HISTORY, "maximize")
    assert data["best"] == [0.8, 0.8, 0.9, 0.9]
    assert data["numbers"] == [0, 2, 3, 4] and data["failed"] == [1, 5]


def test_convergence_data_of_nothing_and_of_failures_only():
    assert convergence_data([]) == {"numbers": [], "errors": [], "best": [], "failed": []}
    assert convergence_data([record(1, None), record(0, None)]) == {
        "numbers": [],
        "errors": [],
        "best": [],
        "failed": [0, 1],
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
