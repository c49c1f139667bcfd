from __future__ import annotations

import math
import pickle
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from filterfit.errors import MetricError
from filterfit.images import load_image
from filterfit.metrics import METRICS, PSNR_CAP, Metric, de2000, get_metric, mae, make_mask, psnr, rmse, ssim


def convert(*args: str | Path) -> None:
    subprocess.run(["convert", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pairs(photo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Reference/candidate files made by ImageMagick 6.9.11 from the astronaut crop."""
    folder = tmp_path_factory.mktemp("pairs")
    convert(photo, "-blur", "0x2", folder / "blur.png")
    convert(photo, "-blur", "0x1", "-depth", "16", f"PNG48:{folder / 'a16.png'}")
    convert(photo, "-blur", "0x3", "-depth", "16", f"PNG48:{folder / 'b16.png'}")
    convert(photo, "-colorspace", "Gray", folder / "grey.png")
    convert(folder / "grey.png", "-blur", "0x2", folder / "greyblur.png")
    return {
        "8-bit RGB": (photo, folder / "blur.png"),
        "16-bit RGB": (folder / "a16.png", folder / "b16.png"),
        "8-bit grey": (folder / "grey.png", folder / "greyblur.png"),
    }


# Printed by ImageMagick 6.9.11-60 Q16 (Debian 12 apt) in parentheses on stderr, for the files the
# `pairs` fixture makes from the 128x128 astronaut crop in conftest.PHOTO_CROP:
#   compare -metric rmse photo.png blur.png null:        -> 3782.06 (0.0577106)
#   compare -metric rmse a16.png b16.png null:           -> 3204.01 (0.04889)
#   compare -metric rmse grey.png greyblur.png null:     -> 3704.83 (0.0565321)
IMAGEMAGICK_RMSE = {"8-bit RGB": 0.0577106, "16-bit RGB": 0.04889, "8-bit grey": 0.0565321}


@pytest.mark.requires("convert")
@pytest.mark.parametrize("kind", sorted(IMAGEMAGICK_RMSE))
def test_rmse_equals_imagemagick_compare(pairs, kind):
    reference, candidate = (load_image(path) for path in pairs[kind])
    assert (reference.bit_depth, candidate.bit_depth) == ((16, 16) if "16" in kind else (8, 8))
    assert rmse(reference.pixels, candidate.pixels) == pytest.approx(IMAGEMAGICK_RMSE[kind], abs=1e-6)


@pytest.mark.requires("convert", "compare")
@pytest.mark.parametrize("kind", sorted(IMAGEMAGICK_RMSE))
def test_rmse_equals_compare_run_now(pairs, kind):
    """The same check against whatever `compare` is installed, so a changed fixture cannot hide."""
    reference, candidate = pairs[kind]
    completed = subprocess.run(
        ["compare", "-metric", "rmse", str(reference), str(candidate), "null:"], capture_output=True, text=True
    )
    assert completed.returncode == 1, completed.stderr  # 1: the images differ
    printed = float(re.fullmatch(r"[\d.]+ \(([\d.e-]+)\)", completed.stderr.strip()).group(1))
    assert rmse(load_image(reference).pixels, load_image(candidate).pixels) == pytest.approx(printed, abs=1e-5)


# --- scikit-image as the reference -------------------------------------------------------------


@pytest.fixture(scope="module")
def photo_pair(pairs) -> tuple[np.ndarray, np.ndarray]:
    return tuple(load_image(path).pixels for path in pairs["8-bit RGB"])


@pytest.mark.requires("convert")
def test_rmse_and_psnr_agree_with_scikit_image(photo_pair):
    reference, candidate = photo_pair
    assert rmse(reference, candidate) ** 2 == pytest.approx(mean_squared_error(reference, candidate), rel=1e-6)
    assert psnr(reference, candidate) == pytest.approx(
        peak_signal_noise_ratio(reference, candidate, data_range=1.0), rel=1e-7
    )


@pytest.mark.requires("convert")
def test_ssim_equals_scikit_image(photo_pair):
    reference, candidate = photo_pair
    expected = structural_similarity(reference, candidate, channel_axis=2, data_range=1.0)
    assert ssim(reference, candidate) == pytest.approx(expected, abs=1e-6)
    assert 0.5 < ssim(reference, candidate) < 0.9


@pytest.mark.requires("convert")
def test_ssim_of_grey_equals_scikit_image(pairs):
    reference, candidate = (load_image(path).pixels for path in pairs["8-bit grey"])
    expected = structural_similarity(reference[:, :, 0], candidate[:, :, 0], data_range=1.0)
    assert ssim(reference, candidate) == pytest.approx(expected, abs=1e-6)


@pytest.mark.requires("convert")
def test_de2000_equals_scikit_image(photo_pair):
    reference, candidate = photo_pair
    expected = deltaE_ciede2000(rgb2lab(reference), rgb2lab(candidate)).mean()
    assert de2000(reference, candidate) == pytest.approx(expected, rel=1e-6)
    assert 1 < de2000(reference, candidate) < 10


@pytest.mark.requires("convert")
def test_mae_by_hand_on_the_photo(photo_pair):
    reference, candidate = photo_pair
    expected = np.abs(reference.astype(np.float64) - candidate.astype(np.float64)).mean()
    assert mae(reference, candidate) == pytest.approx(expected, rel=1e-9)
    assert mae(reference, candidate) < rmse(reference, candidate)  # true of any non-constant error


# --- hand-computed cases -----------------------------------------------------------------------

ZEROS = np.zeros((2, 2, 3), dtype=np.float32)


def test_rmse_by_hand():
    assert rmse(ZEROS, np.full((2, 2, 3), 0.5)) == 0.5
    one_sample = ZEROS.copy()
    one_sample[0, 0, 0] = 1.0
    assert rmse(ZEROS, one_sample) == pytest.approx(math.sqrt(1 / 12))


def test_mae_by_hand():
    candidate = np.array([[[0.1], [0.2]], [[0.3], [0.4]]], dtype=np.float32)
    assert mae(np.zeros((2, 2, 1)), candidate) == pytest.approx(0.25, rel=1e-7)
    assert mae(candidate, np.zeros((2, 2, 1))) == pytest.approx(0.25, rel=1e-7)


@pytest.mark.parametrize("error, decibels", [(0.1, 20.0), (0.01, 40.0), (0.5, 20 * math.log10(2))])
def test_psnr_by_hand(error, decibels):
    assert psnr(ZEROS, np.full((2, 2, 3), error)) == pytest.approx(decibels, abs=1e-5)


def test_psnr_of_identical_images_is_capped():
    assert psnr(ZEROS, ZEROS) == PSNR_CAP == 200.0
    assert psnr(ZEROS, np.full((2, 2, 3), 1e-12)) == PSNR_CAP


def test_ssim_of_identical_images_is_one(pixels):
    assert ssim(pixels, pixels) == pytest.approx(1.0, abs=1e-12)


def test_de2000_black_against_white_is_100():
    # Pure lightness difference: L* 0 vs 100, mean L* 50 so S_L = 1 and dE00 = dL = 100.
    assert de2000(np.zeros((4, 4, 3)), np.ones((4, 4, 3))) == pytest.approx(100.0, abs=1e-3)


def test_de2000_ignores_alpha(rgba_pixels):
    other = rgba_pixels.copy()
    other[:, :, 3] = 1 - other[:, :, 3]
    assert de2000(rgba_pixels, other) == 0.0
    assert rmse(rgba_pixels, other) > 0.25  # the pixel metrics compare alpha like a colour


def test_de2000_of_grey_is_that_of_grey_rgb(grey_pixels):
    darker = grey_pixels * 0.8
    assert de2000(grey_pixels, darker) == pytest.approx(
        de2000(np.repeat(grey_pixels, 3, axis=2), np.repeat(darker, 3, axis=2)), rel=1e-9
    )
    assert de2000(grey_pixels, darker) > 1


def test_shapes_must_match():
    with pytest.raises(MetricError, match=r"images must have the same shape, but got \(2, 2, 3\) and \(2, 2, 1\)"):
        rmse(ZEROS, np.zeros((2, 2, 1)))


# --- masks -------------------------------------------------------------------------------------


def test_mask_restricts_every_metric(pixels):
    candidate = pixels.copy()
    candidate[:, :32] = 1 - candidate[:, :32]  # damage the left half only
    mask = np.zeros(pixels.shape[:2], dtype=bool)
    mask[:, 40:] = True
    for metric in METRICS.values():
        assert metric(pixels, candidate, mask=mask) == pytest.approx(metric.ideal, abs=1e-6), metric.name
        assert metric.loss(metric(pixels, candidate)) > metric.ideal_loss + 1e-3, metric.name


def test_rmse_with_mask_by_hand():
    candidate = ZEROS.copy()
    candidate[0, 0] = 0.6  # every channel of the top-left pixel
    mask = np.array([[True, True], [False, False]])
    assert rmse(ZEROS, candidate, mask=mask) == pytest.approx(0.6 / math.sqrt(2), rel=1e-6)
    assert mae(ZEROS, candidate, mask=mask) == pytest.approx(0.3, rel=1e-6)


def test_make_mask_without_border_or_mask_is_none():
    assert make_mask((48, 64, 3)) is None


def test_make_mask_border():
    mask = make_mask((48, 64, 3), border=5)
    assert mask.shape == (48, 64)
    assert mask.sum() == (48 - 10) * (64 - 10)
    assert mask[5, 5] and mask[42, 58]
    assert not mask[4, 30] and not mask[43, 30] and not mask[20, 4] and not mask[20, 59]


def test_make_mask_combines_a_mask_with_a_border():
    given = np.zeros((48, 64), dtype=np.uint8)
    given[:, :10] = 1
    mask = make_mask((48, 64), border=3, mask=given)
    assert mask.dtype == bool
    assert mask.sum() == (48 - 6) * (10 - 3)


def test_make_mask_passes_a_mask_through_as_booleans():
    given = np.eye(4, 6)
    assert make_mask((4, 6), mask=given).tolist() == given.astype(bool).tolist()


@pytest.mark.parametrize(
    "shape, kwargs, message",
    [
        ((48, 64), {"border": -1}, r"border must be >= 0 pixels, but got -1"),
        ((48, 64), {"border": 24}, r"a border of 24 pixels leaves nothing of a 64x48 image to compare"),
        ((48, 64), {"mask": np.ones((10, 12))}, r"the mask must be 64x48 like the images, but is 12x10"),
    ],
)
def test_make_mask_errors(shape, kwargs, message):
    with pytest.raises(MetricError, match=message):
        make_mask(shape, **kwargs)


def test_ssim_mask_selects_from_the_map_inside_the_border(photo_pair):
    reference, candidate = photo_pair
    everywhere = np.ones(reference.shape[:2], dtype=bool)
    assert ssim(reference, candidate, mask=everywhere) == ssim(reference, candidate)
    with pytest.raises(MetricError, match=r"the mask must be 128x128 like the images"):
        ssim(reference, candidate, mask=np.ones((4, 4), dtype=bool))


# --- Metric objects and get_metric -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_registered_metric_conforms(name, pixels):
    """Identical images score the ideal; more damage scores worse; residuals order like the metric."""
    metric = METRICS[name]
    assert metric.name == name
    assert get_metric(name) is metric
    assert metric(pixels, pixels) == pytest.approx(metric.ideal, abs=1e-6)
    assert metric.loss(metric.ideal) == metric.ideal_loss
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, pixels.shape).astype(np.float32)
    candidates = [np.clip(pixels + scale * noise, 0, 1) for scale in (0.01, 0.05, 0.2)]
    losses = [metric.loss(metric(pixels, candidate)) for candidate in candidates]
    assert losses == sorted(losses) and losses[0] > metric.ideal_loss
    squares = [float(np.sum(metric.residuals(pixels, candidate, None) ** 2)) for candidate in candidates]
    assert squares == sorted(squares) and squares[0] > 0
    restored = pickle.loads(pickle.dumps(metric))  # metrics travel to worker processes
    assert restored(pixels, candidates[1]) == metric(pixels, candidates[1])


@pytest.mark.parametrize(
    "name, per_sample", [("rmse", True), ("mae", True), ("psnr", True), ("ssim", False), ("de2000", False)]
)
def test_residuals_respect_the_mask(name, per_sample, pixels):
    mask = make_mask(pixels.shape, border=4)
    residuals = METRICS[name].residuals(pixels, pixels[::-1], mask)
    assert residuals.ndim == 1
    assert residuals.size == mask.sum() * (3 if per_sample else 1)


def test_directions_and_ideals():
    assert {name: (m.direction, m.ideal) for name, m in METRICS.items()} == {
        "rmse": ("minimize", 0.0),
        "mae": ("minimize", 0.0),
        "psnr": ("maximize", 200.0),
        "ssim": ("maximize", 1.0),
        "de2000": ("minimize", 0.0),
        "distribution": ("minimize", 0.0),
    }
    assert METRICS["psnr"].loss(30.0) == -30.0
    assert METRICS["psnr"].ideal_loss == -200.0


def test_get_metric_by_name_ignores_case():
    assert get_metric("SSIM") is METRICS["ssim"]


def test_get_metric_passes_a_metric_through():
    custom = Metric("custom", rmse, ideal=0.0)
    assert get_metric(custom) is custom


def test_get_metric_unknown_name_lists_the_valid_ones():
    with pytest.raises(
        MetricError, match=r"unknown metric 'lpips'; valid ones are rmse, mae, psnr, ssim, de2000, distribution$"
    ):
        get_metric("lpips")


def test_get_metric_rejects_what_is_neither_name_nor_function():
    with pytest.raises(
        MetricError,
        match=r"metric must be a name \(rmse, mae, psnr, ssim, de2000, distribution\) or a function, but got 5",
    ):
        get_metric(5)


def max_error(reference, candidate):
    return float(np.max(np.abs(reference - candidate)))


def test_get_metric_from_a_function_without_mask(pixels):
    metric = get_metric(max_error)
    assert (metric.name, metric.direction, metric.residuals, metric.ideal) == ("max_error", "minimize", None, None)
    assert metric.ideal_loss == -math.inf
    candidate = pixels.copy()
    candidate[0, 0, 0] += 0.5  # outside the mask below
    candidate[10, 10, 1] -= 0.25
    mask = np.zeros(pixels.shape[:2], dtype=bool)
    mask[5:, 5:] = True
    assert metric(pixels, candidate) == pytest.approx(0.5)
    assert metric(pixels, candidate, mask=mask) == pytest.approx(0.25)  # the wrapper applies the mask


def test_get_metric_from_a_function_with_mask(pixels):
    seen = []

    def masked_error(reference, candidate, *, mask=None):
        seen.append(mask)
        return 0.125

    metric = get_metric(masked_error)
    assert metric.function is masked_error  # given the mask itself, not wrapped
    mask = np.ones(pixels.shape[:2], dtype=bool)
    assert metric(pixels, pixels, mask=mask) == 0.125
    assert seen[0] is mask


def test_get_metric_from_a_lambda_is_minimised():
    metric = get_metric(lambda reference, candidate: 3.0)
    assert metric.name == "<lambda>"
    assert metric.loss(metric(ZEROS, ZEROS)) == 3.0
