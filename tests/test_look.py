"""The look pipeline: each adjustment, the Look object, its dict form and its previews."""

from __future__ import annotations

import numpy as np
import pytest

from filterfit.errors import FilterFitError, ParamError
from filterfit.fidelity.preview import PreviewImage, preview_stride
from filterfit.images import Image
from filterfit.look import ADJUSTMENTS, DEFAULT_ADJUSTMENTS, Look, LookError, as_look
from filterfit.look import adjustments as adj
from filterfit.space import Space

SETTINGS = [(a.name, s) for a in ADJUSTMENTS.values() for s in a.settings]
ALL = list(ADJUSTMENTS)


def off_neutral(setting: adj.Setting, fraction: float = 0.3) -> float:
    """A value ``fraction`` of the range away from neutral, inside the range."""
    step = fraction * (setting.high - setting.low)
    return setting.neutral + step if setting.neutral + step <= setting.high else setting.neutral - step


@pytest.mark.parametrize("name", ALL)
def test_neutral_values_leave_the_image_exactly_unchanged(name, pixels):
    adjustment = ADJUSTMENTS[name]
    neutral = [s.neutral for s in adjustment.settings]
    assert np.array_equal(adjustment.function(pixels, *neutral), pixels)
    assert np.array_equal(Look([name]).apply(pixels), pixels)


def test_a_whole_neutral_look_is_the_identity(pixels):
    assert np.array_equal(Look(ALL).apply(pixels), pixels)


@pytest.mark.parametrize("name, setting", SETTINGS, ids=[s.name for _, s in SETTINGS])
def test_each_setting_changes_the_image_smoothly(name, setting, pixels):
    look = Look([name])
    # every other setting off neutral too (size and softness act once amount does), each by its own share: grading's
    # balance moves nothing when shadows, midtones and highlights are pushed alike
    others = {s.name: off_neutral(s, 0.1 + 0.03 * k) for k, s in enumerate(ADJUSTMENTS[name].settings)}
    value = others[setting.name]
    base = look.apply(pixels, others)
    assert base.dtype == np.float32 and base.shape == pixels.shape
    assert 0 <= base.min() and base.max() <= 1
    assert not np.array_equal(base, pixels)
    step = (
        0.01 * (setting.high - setting.low) * (1 if value + 0.01 * (setting.high - setting.low) <= setting.high else -1)
    )
    far = np.abs(look.apply(pixels, {**others, setting.name: value + step}) - base).mean()
    near = np.abs(look.apply(pixels, {**others, setting.name: value + step / 2}) - base).mean()
    assert far > 0
    assert 0.35 < near / far < 0.65  # a change that halves with the step: no jump, no plateau


def test_settings_have_documented_ranges_around_their_neutral_values():
    for name, setting in SETTINGS:
        assert setting.low < setting.high, name
        assert setting.low <= setting.neutral <= setting.high, name
        assert setting.name in adj.__doc__, f"{setting.name} is missing from the table in the module docstring"


def test_the_space_comes_from_the_ranges():
    space = Look(["exposure", "vignette"]).space()
    assert isinstance(space, Space)
    assert space.specs() == [
        "exposure=-2:2",
        "vignette_amount=-1:1",
        "vignette_size=0.2:1",
        "vignette_softness=0.1:1",
    ]


def test_the_default_look_has_at_least_ten_parameters():
    look = Look()
    assert look.adjustments == DEFAULT_ADJUSTMENTS
    assert len(look.space()) >= 10
    assert look.params["vignette_size"] == 0.7 and look.params["exposure"] == 0.0


def test_adjustments_run_in_the_pipeline_order_whatever_order_they_are_named_in():
    assert Look(["vignette", "exposure", "blur"]).adjustments == ("blur", "exposure", "vignette")
    assert Look("contrast, exposure").adjustments == ("exposure", "contrast")


def test_unknown_adjustments_are_named_with_the_valid_ones():
    with pytest.raises(LookError, match=r"unknown look adjustment 'exposre'; valid ones are blur, sharpen, multiply"):
        Look(["exposre"])
    with pytest.raises(LookError, match=r"at least one adjustment"):
        Look([])


def test_parameters_are_checked_against_the_look():
    with pytest.raises(LookError, match=r"this look has no parameter 'sepia'; its parameters are exposure$"):
        Look(["exposure"], {"sepia": 0.5})
    with pytest.raises(LookError, match=r"look parameter exposure must be in \[-2, 2\], but got 3.0"):
        Look(["exposure"], {"exposure": 3})
    with pytest.raises(ParamError, match=r"the look has no parameter radius; its parameters are exposure"):
        Look(["exposure"]).check(Space.parse(["radius=0:1"]))


def test_params_are_a_copy_with_full_names():
    look = Look(["vignette"], {"vignette_amount": -0.5})
    params = look.params
    params["vignette_amount"] = 1.0
    assert look.params == {"vignette_amount": -0.5, "vignette_size": 0.7, "vignette_softness": 0.5}


def test_apply_uses_the_looks_values_unless_given_others(pixels):
    look = Look(["exposure"], {"exposure": 1.0})
    assert np.allclose(look.apply(pixels), np.clip(pixels * 2, 0, 1))
    assert np.array_equal(look.apply(pixels, {"exposure": 0.0}), pixels)
    assert np.allclose(
        look.apply((pixels * 255).round().astype(np.uint8)), np.clip(np.round(pixels * 255) / 255 * 2, 0, 1)
    )


def test_alpha_is_kept_and_grey_becomes_rgb(rgba_pixels, grey_pixels):
    look = Look(["sepia"], {"sepia": 1.0})
    output = look.apply(rgba_pixels)
    assert output.shape == rgba_pixels.shape
    assert np.array_equal(output[:, :, 3], rgba_pixels[:, :, 3])
    assert look.apply(grey_pixels).shape == grey_pixels.shape[:2] + (3,)


def test_grain_is_deterministic_for_a_seed(pixels):
    params = {"grain": 0.5}
    first, again = Look(["grain"], params, seed=7).apply(pixels), Look(["grain"], params, seed=7).apply(pixels)
    other = Look(["grain"], params, seed=8).apply(pixels)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.array_equal(adj.grain(pixels, 0.5, seed=7), first)


def test_vignette_darkens_the_corners_not_the_centre():
    grey = np.full((41, 41, 3), 0.5, dtype=np.float32)
    output = adj.vignette(grey, -1.0, 0.5, 0.2)
    assert output[20, 20, 0] == pytest.approx(0.5)
    assert output[0, 0, 0] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "name, value, check",
    [
        ("exposure", 1.0, lambda out, x: np.allclose(out, np.clip(2 * x, 0, 1))),
        ("saturation", -1.0, lambda out, x: np.allclose(out[:, :, 0], out[:, :, 1], atol=1e-6)),
        ("fade", 0.2, lambda out, x: out.min() >= 0.2 - 1e-6),
        (
            "temperature",
            1.0,
            lambda out, x: (out[:, :, 0] >= x[:, :, 0] - 1e-6).all() and (out[:, :, 2] <= x[:, :, 2]).all(),
        ),
        ("hue", 0.0, lambda out, x: np.array_equal(out, x)),
        ("blur", 2.0, lambda out, x: out.std() < x.std()),
        ("sharpen", 1.0, lambda out, x: np.abs(np.diff(out, axis=1)).mean() > np.abs(np.diff(x, axis=1)).mean()),
    ],
)
def test_adjustments_do_what_their_names_say(name, value, check, pixels):
    assert check(Look([name], {name: value}).apply(pixels), pixels)


def test_to_dict_and_from_dict_round_trip(pixels):
    look = Look(["exposure", "vignette", "grain"], {"exposure": 0.3, "vignette_amount": -0.4, "grain": 0.2}, seed=3)
    data = look.to_dict()
    assert data == {
        "format": 1,
        "adjustments": ["exposure", "vignette", "grain"],
        "params": {
            "exposure": 0.3,
            "vignette_amount": -0.4,
            "vignette_size": 0.7,
            "vignette_softness": 0.5,
            "grain": 0.2,
        },
        "seed": 3,
    }
    rebuilt = Look.from_dict(data)
    assert rebuilt == look
    assert np.array_equal(rebuilt.apply(pixels), look.apply(pixels))


def test_from_dict_rejects_what_is_not_a_look():
    with pytest.raises(LookError, match=r"a look needs a mapping with 'adjustments' and 'params'"):
        Look.from_dict({"radius": 3})
    with pytest.raises(LookError, match=r"look format 2 is not supported"):
        Look.from_dict({"format": 2, "adjustments": ["exposure"]})


def test_colour_part_and_spatial_adjustments(pixels):
    look = Look(["exposure", "sepia", "vignette", "grain", "blur", "sharpen"], {"exposure": 0.5, "sepia": 0.4})
    assert look.spatial_adjustments() == ("blur", "sharpen", "vignette", "grain")
    colour = look.colour_part()
    assert colour.adjustments == ("exposure", "sepia")
    assert colour.params == {"exposure": 0.5, "sepia": 0.4}
    assert colour.spatial_adjustments() == ()
    assert np.array_equal(
        colour.apply(pixels), Look(["exposure", "sepia"], {"exposure": 0.5, "sepia": 0.4}).apply(pixels)
    )
    assert np.array_equal(Look(["vignette"]).colour_part().apply(pixels), pixels)


def test_a_look_is_a_filter(pixels):
    from filterfit.filters import Filter, as_filter

    look = Look(["exposure"])
    assert isinstance(look, Filter)
    assert as_filter(look) is look
    assert look.describe() == "look exposure"
    assert np.allclose(look.render(Image(pixels), {"exposure": 1.0}), np.clip(pixels * 2, 0, 1))


def test_as_look_takes_names_flags_and_looks():
    assert as_look(None) is None and as_look(False) is None
    assert as_look(True) == Look() and as_look("default") == Look()
    assert as_look("exposure,vignette").adjustments == ("exposure", "vignette")
    look = Look(["tint"])
    assert as_look(look) is look
    assert isinstance(LookError("x"), FilterFitError)


def test_a_preview_renders_every_strided_pixel_exactly_as_the_full_render():
    rng = np.random.default_rng(0)
    full = rng.random((60, 90, 3), dtype=np.float32)
    look = Look(["exposure", "contrast", "split_tone", "vignette", "grain"])
    params = {"exposure": 0.3, "contrast": 0.4, "split_tone": 0.5, "vignette_amount": -0.6, "grain": 0.4}
    preview = PreviewImage(full[::3, ::3].copy(), stride=3, full_height=60, full_width=90)
    assert np.array_equal(look.render(preview, params), look.apply(full, params)[::3, ::3])


def test_previews_only_for_per_pixel_looks_on_large_images():
    assert Look().per_pixel
    assert not Look(["exposure", "blur"]).per_pixel  # blur depends on neighbours
    assert not Look(preview=False).per_pixel
    assert preview_stride([Image(np.zeros((512, 512, 3), dtype=np.float32))]) == 2
    assert preview_stride([Image(np.zeros((200, 200, 3), dtype=np.float32))]) == 1


@pytest.mark.parametrize("name", ALL)
def test_adjustments_leave_their_input_untouched(name, pixels):
    """The planar forms work in place for speed; the public functions and apply() must still be pure."""
    before = pixels.copy()
    adjustment = ADJUSTMENTS[name]
    adjustment.function(pixels, *[off_neutral(s) for s in adjustment.settings])
    Look([name], {s.name: off_neutral(s) for s in adjustment.settings}).apply(pixels)
    assert np.array_equal(pixels, before)
