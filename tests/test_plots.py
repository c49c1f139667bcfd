"""Plots: their data (checked exactly), the convergence PNG (loosely), the report's SVG (by its parts)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from filterfit.images import load_image
from filterfit.plots import convergence_data, pairwise_data, slice_data
from filterfit.plots.png import Painter, draw_convergence
from filterfit.plots.svg import PALETTE, pairwise_svg, slices_svg, ticks
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
    path = draw_convergence(convergence_data(history), tmp_path / "convergence.png", metric="rmse")
    assert path == tmp_path / "convergence.png"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    picture = load_image(path)
    assert picture.pixels.shape[:2] == (400, 700)  # 7 x 4 inches at 100 dpi
    assert picture.pixels.shape[2] in (3, 4)
    assert np.ptp(picture.pixels[:, :, :3]) > 0.5  # axes and labels on a white background


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


PAINT = """
import sys
from pathlib import Path
from filterfit.plots import convergence_data
from filterfit.plots.png import Painter
from filterfit.result import TrialRecord

painter = Painter()  # this process has no matplotlib: the painter starts one that has
records = [TrialRecord(0, {"x": 0}, 0.5, "complete", finished_s=0.3), TrialRecord(1, {"x": 1}, 0.2, "complete")]
painter.start(convergence_data(records), Path(sys.argv[1]), metric="rmse")
painted = painter.finish()
assert Path(sys.argv[1]).read_bytes() == painted
print(sorted(name for name in sys.modules if name.startswith("matplotlib")))
"""


def test_the_painter_draws_in_a_process_of_its_own_when_this_one_has_no_matplotlib(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", PAINT, str(tmp_path / "painted.png")], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"  # the fit's process never imported matplotlib
    here = draw_convergence(
        convergence_data([record(0, 0.5, 0.3), record(1, 0.2)]), tmp_path / "here.png", metric="rmse"
    )
    np.testing.assert_array_equal(load_image(here).pixels, load_image(tmp_path / "painted.png").pixels)


def test_a_painter_in_a_process_that_has_drawn_before_draws_in_a_thread(tmp_path):
    draw_convergence(convergence_data(HISTORY), tmp_path / "first.png")  # matplotlib is imported here now
    painter = Painter()
    painter.start(convergence_data(HISTORY), tmp_path / "c.png")
    assert painter.finish() == (tmp_path / "c.png").read_bytes() == (tmp_path / "first.png").read_bytes()


def test_a_painter_whose_process_is_gone_draws_here(tmp_path):
    painter = Painter()
    painter.close()  # as if it had died
    painter.start(convergence_data(HISTORY), tmp_path / "c.png")
    assert painter.finish().startswith(b"\x89PNG") and (tmp_path / "c.png").is_file()


@pytest.mark.parametrize(
    ("low", "high", "log", "expected"),
    [
        (0, 100, False, [0, 25, 50, 75, 100]),
        (-1, 1, False, [-1, -0.5, 0, 0.5, 1]),
        (0.3, 5, False, [1, 2, 3, 4, 5]),
        (1e-4, 2, True, [1e-4, 1e-3, 1e-2, 1e-1, 1]),
        (1e-12, 1, True, [1e-12, 1e-9, 1e-6, 1e-3, 1]),  # every third power: at most five
        (0.02, 0.09, True, [0.02, 0.04, 0.06, 0.08]),  # less than a decade: round steps
        (3, 3, False, [3]),
    ],
)
def test_ticks_are_round_numbers_within_the_axis(low, high, log, expected):
    assert ticks(low, high, log=log) == pytest.approx(expected)


def _parsed(svg: str):
    import xml.etree.ElementTree as ElementTree

    return ElementTree.fromstring(svg)


SVG = ""  # inline in HTML, the SVG needs no namespace


def test_the_slices_are_one_panel_a_parameter_with_the_evaluations_as_dots():
    slices = [
        slice_data(SAMPLES, name, {"a": 5, "b": 50}, PARAMS, [4.5, 5.5] if name == "a" else None) for name in PARAMS
    ]
    root = _parsed(slices_svg(slices, metric="rmse"))
    panels = root.findall(f"{SVG}g")
    assert len(panels) == 2
    titles = [panel.find(f"{SVG}title").text for panel in panels]
    assert titles == ["a: best 5, interval 4.5 to 5.5; 3 evaluations", "b: best 50; 3 evaluations"]
    dots = {path.get("stroke"): path.get("d").count("M") for path in panels[0].findall(f"{SVG}path")}
    assert sum(dots.values()) == 3  # the three complete evaluations; the failed one has no error to show
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert "rmse" in texts and texts.count("rmse") == 1  # the error axis is labelled once a row
    assert {"a", "b", "0", "10", "100"} <= set(texts)


def test_slices_fill_rows_of_four_and_escape_what_they_show():
    from filterfit.plots import svg

    params = {f"p{k}": Param(f"p{k}", 0, 1) for k in range(6)}
    records = [TrialRecord(n, {name: n / 10 for name in params}, 0.1 + n, "complete") for n in range(4)]
    slices = [slice_data(records, name, records[0].params, params) for name in params]
    text = slices_svg(slices, metric="a<b")
    root = _parsed(text)
    assert len(root.findall(f"{SVG}g")) == 6
    assert int(root.get("width")) == 4 * (svg.LEFT + svg.WIDTH + svg.RIGHT)
    assert [t.text for t in root.iter(f"{SVG}text")].count("a<b") == 2 and "a&lt;b" in text  # once a row


def test_the_pairwise_plot_colours_each_evaluation_by_its_error_and_says_its_values():
    pairs = [pairwise_data(SAMPLES, "a", "b", {"a": 5, "b": 50})]
    root = _parsed(pairwise_svg(pairs, metric="rmse"))
    circles = root.findall(f"{SVG}circle")
    assert [c.find(f"{SVG}title").text for c in circles] == [
        "a 5, b 50: rmse 0.1",
        "a 6, b 52: rmse 0.2",
        "a 6, b 90: rmse 0.4",
    ]
    assert circles[0].get("fill") == PALETTE[0] and circles[2].get("fill") == PALETTE[-1]  # lowest, highest
    assert root.find(f"{SVG}polygon/{SVG}title").text == "best: a 5, b 50"
    assert slices_svg([]) == pairwise_svg([]) == ""
