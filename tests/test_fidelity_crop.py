"""Searching a centre crop of a large photo first, then confirming on the whole photo (filterfit.fidelity.crop)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import filterfit
from filterfit.errors import FilterFitError
from filterfit.fidelity.crop import plan_crop
from filterfit.filters import as_filter
from filterfit.images import Image, save_image, to_float
from filterfit.metrics import get_metric
from filterfit.problem import Problem
from filterfit.space import as_space
from filterfit.strategies import get_strategy


def _pairs(width: int, height: int, count: int = 1) -> list[tuple[Image, Image]]:
    pixels = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    return [(Image(pixels, path=Path("photo.png")), Image(pixels))] * count


def plan(pairs: list[tuple[Image, Image]], *, masked: bool, **options):
    """plan_crop of a gain filter's problem on these pairs (with a mask of every pixel when ``masked``)."""
    mask = np.ones(pairs[0][1].pixels.shape[:2], dtype=bool) if masked else None
    whole = Problem(as_filter(lambda pixels, gain: pixels * gain), as_space(["gain=0:2"]), pairs,
                    get_metric("rmse"), mask=mask)  # fmt: skip
    return plan_crop(whole, **options)


def test_a_photo_below_one_and_a_half_megapixels_is_searched_whole():
    assert plan(_pairs(1000, 1000), enabled=None, masked=False) is None


def test_a_large_photo_gets_a_centre_crop_whose_margin_is_rendered_but_not_compared():
    pairs = _pairs(1600, 1200)
    crop = plan(pairs, enabled=None, masked=False)
    assert crop is not None
    source, target = crop.problem.pairs[0]
    assert crop.geometry == "768x768+416+216" and crop.label == "crop 768x768+416+216"
    assert crop.border == 128
    assert crop.problem.mask.sum() == 512 * 512 and not crop.problem.mask[:128].any()
    np.testing.assert_array_equal(source.pixels, pairs[0][0].pixels[216:984, 416:1184])
    assert source.pixels.flags.c_contiguous
    assert source.path is None  # a program that reads files must get the crop, not the photo
    assert crop.budget(200) == 150 and crop.hand_over == "continue"


@pytest.mark.parametrize(
    ("pairs", "masked"), [(_pairs(1600, 1200), True), (_pairs(1600, 1200, count=2), False)], ids=["mask", "pairs"]
)
def test_no_crop_by_default_with_a_mask_or_several_pairs(pairs, masked):
    assert plan(pairs, enabled=None, masked=masked) is None


def test_no_crop_when_switched_off():
    assert plan(_pairs(1600, 1200), enabled=False, masked=False) is None


def test_a_crop_asked_for_on_a_small_photo_is_a_clear_error():
    with pytest.raises(
        FilterFitError, match=r"cannot search on a crop: the photo is 500x500, smaller than the 768x768 crop"
    ):
        plan(_pairs(500, 500), enabled=True, masked=False)


def test_a_crop_asked_for_on_a_photo_below_the_size_threshold_is_made():
    assert plan(_pairs(800, 800), enabled=True, masked=False) is not None


def test_auto_scans_a_smaller_crop_of_a_photo_too_small_for_a_whole_search_on_one():
    pairs = _pairs(512, 400)
    crop = plan(pairs, enabled=None, masked=False, scans=True)
    assert crop is not None and crop.scan_only
    assert crop.geometry == "320x320+96+40"
    assert crop.border == 64
    np.testing.assert_array_equal(crop.problem.pairs[0][1].pixels, pairs[0][1].pixels[40:360, 96:416])
    assert not plan(_pairs(1600, 1200), enabled=None, masked=False, scans=True).scan_only  # the whole search


@pytest.mark.parametrize(
    ("pairs", "masked", "scans"),
    [(_pairs(512, 512), False, False), (_pairs(512, 512), True, True), (_pairs(319, 512), False, True)],
    ids=["not-auto", "mask", "too-small"],
)
def test_no_scan_crop_for_another_strategy_a_mask_or_a_photo_smaller_than_it(pairs, masked, scans):
    assert plan(pairs, enabled=None, masked=masked, scans=scans) is None


def test_a_crop_asked_for_is_a_whole_search_and_no_crop_means_none_at_all():
    with pytest.raises(FilterFitError, match="smaller than the 768x768 crop"):
        plan(_pairs(512, 512), enabled=True, masked=False, scans=True)
    assert plan(_pairs(512, 512), enabled=False, masked=False, scans=True) is None


def _stepped(pixels: np.ndarray, level: float, gain: float) -> np.ndarray:
    return pixels * gain + np.floor(level * 2) / 20  # renders identical within steps of 0.5


def test_a_scan_only_search_stops_where_least_squares_would_start(small_pixels):
    space = as_space(["level=1:5", "gain=0.5:1.5"])
    strategy = get_strategy("auto", space, seed=0, budget=100)
    strategy.scan_only = True
    result = filterfit.fit(
        _stepped, space, small_pixels, _stepped(small_pixels, 2.2, 0.8), strategy=strategy, budget=100, workers=1
    )
    assert result.stopped == "exhausted"
    assert 22 <= result.evaluations < 40  # a scan of 8 and line scans of 7 per axis, steps measured, no more
    assert strategy.start in [r.params for r in result.history]
    assert any("steps" in flag for flag in strategy.flags()["level"])


def test_the_whole_photo_starts_from_a_scan_crop_with_least_squares_probes_in_the_same_batch(small_pixels):
    """The start and the first difference probes need nothing from each other: one batch, both workers busy."""
    import optuna

    space = as_space(["level=1:5", "gain=0.5:1.5"])
    scanned = get_strategy("auto", space, seed=0, budget=100)
    scanned.scan_only = True
    filterfit.fit(_stepped, space, small_pixels, _stepped(small_pixels, 2.2, 0.8), strategy=scanned, budget=100)
    whole = get_strategy("auto", space, seed=0, budget=100, workers=2)
    whole.hint([scanned.start], learnt_from=scanned)
    study = optuna.create_study()
    asked = []
    while (trial := whole.ask(study)) is not None:
        asked.append(trial.params)
    assert asked[0] == scanned.start
    assert len(asked) == 3  # the start and a forward probe per parameter, before any result is back


@pytest.mark.slow
def test_fit_scans_a_crop_then_searches_the_whole_photo_to_the_exact_step(small_pixels):
    photo = np.tile(small_pixels, (13, 13, 1))[:400, :400]  # too small for a whole search on a crop
    target = _stepped(photo, 2.2, 0.8)
    space = ["level=1:5", "gain=0.5:1.5"]
    result = filterfit.fit(_stepped, space, photo, target, budget=120, workers=2, seed=0, probes=0)
    cropped = [r for r in result.history if r.fidelity is not None]
    whole = [r for r in result.history if r.fidelity is None]
    assert cropped and {r.fidelity for r in cropped} == {"crop 320x320+40+40"}
    assert min(r.number for r in whole) > max(r.number for r in cropped)
    assert whole[0].params in [r.params for r in cropped]  # the crop's start, evaluated again on the whole photo
    assert result.best_error < 1e-5
    assert 2 <= result.best_params["level"] < 2.5 and result.best_params["gain"] == pytest.approx(0.8, abs=1e-4)
    unscanned = filterfit.fit(_stepped, space, photo, target, budget=120, workers=2, seed=0, probes=0, crop=False)
    assert all(r.fidelity is None for r in unscanned.history)


def test_a_hint_is_the_first_trial_a_sampler_strategy_asks_for():
    import optuna

    space = as_space(["sigma=0.3:5"])
    strategy = get_strategy("tpe", space, seed=0)
    strategy.hint([{"sigma": 1.25}])
    study = optuna.create_study(sampler=strategy.sampler())
    assert strategy.ask(study).params == {"sigma": 1.25}
    assert strategy.ask(study).params != {"sigma": 1.25}


@pytest.fixture(scope="module")
def large_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-image's astronaut at 800x800: big enough for a crop with its margin."""
    from skimage import data, transform

    pixels = transform.resize(to_float(data.astronaut()), (800, 800), order=1, anti_aliasing=False)
    return save_image(np.clip(pixels, 0, 1).astype(np.float32), tmp_path_factory.mktemp("large") / "photo.png")


@pytest.mark.slow
@pytest.mark.requires("convert")
def test_fit_searches_the_crop_then_confirms_on_the_whole_photo(large_photo):
    target = large_photo.with_name("target.png")
    subprocess.run(["convert", str(large_photo), "-blur", "0x2", str(target)], check=True)
    result = filterfit.fit(
        "convert {input} -blur 0x{sigma} {output}",
        ["sigma=0.3:5"],
        large_photo,
        target,
        crop=True,
        budget=60,
        workers=2,
        seed=0,
    )
    cropped = [r for r in result.history if r.fidelity is not None]
    whole = [r for r in result.history if r.fidelity is None]
    assert cropped and {r.fidelity for r in cropped} == {"crop 768x768+16+16"}
    assert whole and min(r.number for r in whole) > max(r.number for r in cropped)
    assert len(whole) < 16  # refined from the crop's answer, not searched again (a scan alone is 16)
    assert result.best_params["sigma"] == pytest.approx(2, abs=0.02)
    assert result.best_error < 1e-4
    assert result.best_error in {r.error for r in whole}  # the answer is scored on the whole photo
    assert result.evaluations == len(result.history) <= 60


def test_auto_takes_over_the_steps_another_auto_measured(small_pixels):
    """What the crop's search learnt about a stepped parameter is not measured again on the whole photo."""

    def stepped(pixels, level, gain):
        return pixels * gain * (np.floor(level * 2) / 2)  # renders identical within steps of 0.5

    space = as_space(["level=1:5", "gain=0.5:1.5"])
    target = stepped(small_pixels, 2.2, 0.8)
    crop_search = get_strategy("auto", space, seed=0, budget=60)
    filterfit.fit(stepped, space, small_pixels, target, strategy=crop_search, budget=60, workers=1, seed=0)
    assert any("steps" in flag for flag in crop_search.flags()["level"])
    whole = get_strategy("auto", space, seed=0, budget=60)
    whole.hint([{"level": 2.2, "gain": 0.8}], learnt_from=crop_search)
    assert whole.flags() == crop_search.flags()


@pytest.mark.requires("convert")
def test_the_cli_says_it_searched_a_crop_first(large_photo):
    from click.testing import CliRunner

    from filterfit.cli import cli

    target = large_photo.with_name("target-cli.png")
    subprocess.run(["convert", str(large_photo), "-blur", "0x2", str(target)], check=True)
    args = ["fit", large_photo, target, "--command", "convert {input} -blur 0x{sigma} {output}"]
    args += ["--param", "sigma=0.3:5", "--crop", "--budget", 8, "--workers", 2, "--seed", 0]
    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    assert "searched the 768x768+16+16 crop first (6 evaluations), then the whole image (2)" in result.stdout


@pytest.mark.requires("convert")
def test_the_cli_refuses_a_crop_of_a_small_photo(small_photo):
    from click.testing import CliRunner

    from filterfit.cli import cli

    args = ["fit", small_photo, small_photo, "--command", "convert {input} -blur 0x{sigma} {output}"]
    args += ["--param", "sigma=0.3:5", "--crop"]
    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: cannot search on a crop: the photo is 32x32, smaller than the 768x768 crop; leave out --crop"
    )


def test_a_crop_asked_for_a_look_or_a_strategy_object_is_refused_not_ignored(small_photo):
    with pytest.raises(FilterFitError, match="cannot search on a crop: a look searches a preview"):
        filterfit.fit(look=True, source=small_photo, target=small_photo, crop=True, budget=4)
    space = as_space(["sigma=0.3:5"])
    strategy = get_strategy("random", space, seed=0, budget=4)
    with pytest.raises(FilterFitError, match="a strategy object cannot be copied for it: give the strategy by name"):
        filterfit.fit(
            "convert {input} -blur 0x{sigma} {output}", space, small_photo, small_photo, strategy=strategy, crop=True
        )


def test_a_crop_answer_that_is_exact_on_the_whole_photo_ends_the_fit(small_pixels):
    """The whole photo's first evaluation (the crop's answer) has rmse 0: nothing is left to search.

    auto used to start a fit from that hint, find nothing to evaluate, and crash with StopIteration.
    """

    def brighter(pixels, level):
        return np.clip(pixels + level / 255, 0, 1)

    photo = np.tile(small_pixels, (25, 25, 1))[:800, :800]  # big enough for a crop
    target = brighter(photo, 37)
    result = filterfit.fit(
        brighter, ["level=0:100:int"], photo, target, crop=True, budget=40, workers=1, seed=0, probes=0
    )
    assert result.best_params == {"level": 37}
    assert result.best_error == 0
    whole = [r for r in result.history if r.fidelity is None]
    assert len(whole) == 1 and whole[0].params == {"level": 37}
