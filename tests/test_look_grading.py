"""The expressive look's adjustments (issue 18): tone curves, the channel mixer, colour grading, gradient overlays."""

from __future__ import annotations

import numpy as np
import pytest

import filterfit
from filterfit.look import ADJUSTMENTS, Look
from filterfit.look.adjustments import LUMA, curve_points, grading, mixer
from filterfit.look.adjustments.overlays import BLENDS, NEUTRAL_COLOUR
from filterfit.metrics import psnr

RAMP = np.repeat(np.linspace(0, 1, 1001, dtype=np.float32)[np.newaxis, :, np.newaxis], 3, axis=2)  # black to white


def curve_settings(rng: np.random.Generator, name: str = "curve") -> dict[str, float]:
    """Random values of every setting of a curve, each anywhere in its range."""
    return {s.name: float(rng.uniform(s.low, s.high)) for s in ADJUSTMENTS[name].settings}


@pytest.mark.parametrize("name", ["curve", "red_curve", "green_curve", "blue_curve"])
def test_every_curve_rises_whatever_its_settings(name):
    rng = np.random.default_rng(0)
    for _ in range(200):
        output = Look([name], curve_settings(rng, name)).apply(RAMP)
        assert (np.diff(output[0], axis=0) >= -1e-6).all()  # along the ramp, no channel ever falls


def test_a_curve_runs_from_its_black_to_its_white_and_steepens_where_asked():
    look = Look(["curve"], {"curve_black": 0.1, "curve_white": 0.9, "curve_50": 0.5})
    output = look.apply(RAMP)[0, :, 0]
    assert output[0] == pytest.approx(0.1, abs=0.005) and output[-1] == pytest.approx(0.9, abs=0.005)
    slopes = np.diff(output) * 1000
    assert slopes[500] > 1.2 * slopes[100]  # steeper in the midtones than in the shadows
    drawn = curve_points([0, 0, 0.5, 0, 0], 0.1, 0.9)
    np.testing.assert_allclose(output[::125], drawn[::32], atol=0.005)  # the drawn polynomial follows the curve


def test_a_channel_curve_moves_its_channel_alone():
    output = Look(["red_curve"], {"red_curve_30": 0.4}).apply(RAMP)[0]
    assert not np.array_equal(output[:, 0], RAMP[0, :, 0])
    assert np.array_equal(output[:, 1:], RAMP[0, :, 1:])


def test_the_mixer_keeps_grey_grey_and_mixes_colours_by_their_shares(pixels):
    shares = (0.2, -0.1, 0.05, 0.3, -0.25, 0.15)
    grey = np.full((4, 4, 3), 0.4, dtype=np.float32)
    np.testing.assert_allclose(mixer(grey, *shares), grey, atol=1e-6)
    mixed = mixer(pixels, 0.2, 0, 0, 0, 0, 0)
    expected_red = np.clip(0.8 * pixels[..., 0] + 0.2 * pixels[..., 1], 0, 1)
    np.testing.assert_allclose(mixed[..., 0], expected_red, atol=1e-6)
    np.testing.assert_array_equal(mixed[..., 1:], pixels[..., 1:])


def test_grading_moves_colour_not_brightness_and_each_range_where_its_tones_are():
    mid = np.full((1, 3, 3), 0.5, dtype=np.float32)
    mid[0, 0], mid[0, 2] = 0.15, 0.85  # a dark, a mid-grey and a light pixel
    pushed = grading(mid, 0.8, 0, 0, 0, 0, 0, 0)  # shadows warmer
    np.testing.assert_allclose(pushed @ LUMA, mid @ LUMA, atol=1e-6)  # brightness as it was
    warmth = pushed[0, :, 0] - pushed[0, :, 2]  # red less blue
    assert warmth[0] > warmth[1] > warmth[2] > 0  # most in the dark pixel
    balanced = grading(mid, 0.8, 0, 0, 0, 0, 0, 0.8)  # more tones count as highlights: shadows get less
    assert balanced[0, 1, 0] - balanced[0, 1, 2] < warmth[1]


def test_an_expressive_look_of_21_parameters_is_fitted_exactly(astronaut_pixels):
    truth = Look(
        ["exposure", "curve", "mixer", "grading"],
        {
            "exposure": 0.2, "curve_10": -0.3, "curve_50": 0.3, "curve_90": -0.2, "curve_black": 0.05,
            "curve_white": 0.93, "mix_red_green": 0.1, "mix_blue_red": -0.08, "shadows_warmth": -0.4,
            "highlights_warmth": 0.5, "midtones_tint": 0.2, "grading_balance": 0.2,
        },
    )  # fmt: skip
    target = truth.apply(astronaut_pixels)
    result = filterfit.fit(look=truth.adjustments, source=astronaut_pixels, target=target, budget=500, workers=1,
                           seed=0, probes=0)  # fmt: skip
    assert len(result.best_params) == 21
    assert psnr(target, Look.from_dict(result.look).apply(astronaut_pixels)) > 60
    assert {k: v for k, v in result.best_params.items() if abs(v - truth.params[k]) > 0.01} == {}


@pytest.fixture(scope="module")
def astronaut_pixels() -> np.ndarray:
    from skimage import data

    from filterfit.images import to_float

    return to_float(data.astronaut())


@pytest.mark.parametrize("mode", list(BLENDS))
def test_a_gradient_blends_its_colours_by_its_mode_from_the_centre_to_the_corners(mode, pixels):
    blend = BLENDS[mode]
    look = Look([f"{mode}_gradient"], {f"{mode}_outer_red": 0.2, f"{mode}_outer_green": 0.6, f"{mode}_end": 0.8})
    output = look.apply(pixels)
    height, width = pixels.shape[:2]
    neutral = NEUTRAL_COLOUR[mode]
    centre = (height // 2, width // 2)
    np.testing.assert_allclose(output[centre], pixels[centre], atol=0.02)  # the inner colour is the mode's neutral
    corner = pixels[0, 0]
    expected = np.clip(blend(corner, np.array([0.2, 0.6, neutral], dtype=np.float32)), 0, 1)
    np.testing.assert_allclose(output[0, 0], expected, atol=1e-5)  # beyond its end: all outer colour


def test_a_gradient_is_drawn_for_the_whole_frame_so_a_preview_is_a_subsample_of_it():
    from filterfit.fidelity.preview import PreviewImage

    rng = np.random.default_rng(1)
    full = rng.random((60, 90, 3), dtype=np.float32)
    params = {"screen_inner_blue": 0.3, "screen_outer_red": 0.5, "screen_centre_x": 0.3, "screen_start": 0.2}
    look = Look(["screen_gradient", "exposure"], {**params, "exposure": 0.2})
    preview = PreviewImage(full[::3, ::3].copy(), stride=3, full_height=60, full_width=90)
    np.testing.assert_array_equal(look.render(preview, {}), look.apply(full)[::3, ::3])


def test_a_centre_and_a_radius_move_the_gradient():
    flat = np.full((40, 40, 3), 0.5, dtype=np.float32)
    left = Look(["multiply_gradient"], {"multiply_outer_red": 0.0, "multiply_centre_x": 0.1}).apply(flat)[..., 0]
    assert left[20, 3] > left[20, 36]  # the right side is further from a centre on the left: darker red
    tight = Look(["multiply_gradient"], {"multiply_outer_red": 0.0, "multiply_end": 0.3}).apply(flat)[..., 0]
    assert tight[20, 30] < Look(["multiply_gradient"], {"multiply_outer_red": 0.0}).apply(flat)[20, 30, 0]


def test_roundness_turns_the_frames_ellipse_into_a_circle_as_css_draws_them():
    flat = np.full((40, 100, 3), 0.5, dtype=np.float32)  # a wide frame: the ellipse is wide, the circle round
    settings = {"multiply_outer_red": 0.0, "multiply_end": 1.0}
    ellipse = Look(["multiply_gradient"], settings).apply(flat)[..., 0]
    circle = Look(["multiply_gradient"], {**settings, "multiply_roundness": 1.0}).apply(flat)[..., 0]
    rows, columns = np.mgrid[0:40, 0:100] + 0.5
    # CSS's circle farthest-corner from the middle: the share is the distance in pixels over the half-diagonal
    share = np.hypot(rows - 20, columns - 50) / np.hypot(20, 50)
    np.testing.assert_allclose(circle, 0.5 * (1 - share), atol=1e-5)
    assert ellipse[20, 95] > circle[20, 95] + 0.05  # the wide ellipse reaches further sideways
    assert circle[0, 50] > ellipse[0, 50] + 0.1  # and less far up and down
    assert circle[0, 0] < 0.01 and ellipse[0, 0] < 0.01  # both reach the outer colour in the corners
    square = np.full((50, 50, 3), 0.5, dtype=np.float32)
    np.testing.assert_array_equal(
        Look(["multiply_gradient"], settings).apply(square),
        Look(["multiply_gradient"], {**settings, "multiply_roundness": 1.0}).apply(square),
    )


@pytest.mark.parametrize("mode", list(BLENDS))
def test_each_blend_mode_is_the_w3c_standards_as_pilgram_computes_it(mode, pixels):
    pilgram = pytest.importorskip("pilgram")
    from PIL import Image as PILImage

    from filterfit.images import quantize, to_float

    photo = quantize(pixels[::4, ::4], 8)
    colour = (200, 90, 30)  # one channel on each side of mid-grey, so soft light's both branches are used
    flat = PILImage.new("RGB", photo.shape[1::-1], colour)
    theirs = to_float(np.asarray(getattr(pilgram.css.blending, mode)(PILImage.fromarray(photo), flat)))
    settings = {
        f"{mode}_{where}_{channel}": value / 255
        for where in ("inner", "outer")
        for channel, value in zip(("red", "green", "blue"), colour)
    }
    ours = Look([f"{mode}_gradient"], settings).apply(to_float(photo))
    assert psnr(theirs, ours) >= 44  # pilgram works in 8 bits (and in lookup tables): rounding apart, the same


def test_an_opacity_mixes_the_blend_with_the_photo(pixels):
    blended = Look(["lighten_gradient"], {"lighten_inner_red": 0.8, "lighten_outer_red": 0.8}).apply(pixels)
    half = Look(
        ["lighten_gradient"], {"lighten_inner_red": 0.8, "lighten_outer_red": 0.8, "lighten_opacity": 0.5}
    ).apply(pixels)
    np.testing.assert_allclose(half, (pixels + blended) / 2, atol=1e-6)
