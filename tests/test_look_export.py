"""A fitted look exported to other tools: an ImageMagick command line, a Hald CLUT and a .cube, all checked
by real ImageMagick (and colour-science for the .cube) against ``Look.apply`` / ``filterfit apply``."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import saved_result
from test_cli import invoke

from filterfit.apply import rebuild
from filterfit.export import export_command, measure_lut
from filterfit.images import load_image, quantize, save_image, to_float
from filterfit.look import ADJUSTMENTS, Look
from filterfit.look.imagemagick import NO_EQUIVALENT, TRANSLATIONS, look_operators
from filterfit.metrics import psnr
from filterfit.result import FitResult

pytestmark = pytest.mark.requires("convert")

# Every translation is exact up to ImageMagick's 16-bit intermediate images: measured 96.9 dB (vibrance 0.9,
# its deepest chain of images) to 112.0 dB on the photo. A formula slip costs far more: the first split_tone
# (an -fx channel() that ImageMagick 6.9 misparses) scored 28.5 dB, -blur for the look's blur 52.8 dB.
EXACT_DB = 90

SETTINGS = {
    "exposure": [{"exposure": -1.3}, {"exposure": 1.1}],
    "temperature": [{"temperature": -0.7}, {"temperature": 0.5}],
    "tint": [{"tint": -0.6}, {"tint": 0.8}],
    "highlights": [{"highlights": -0.8}, {"highlights": 0.6}],
    "shadows": [{"shadows": -0.7}, {"shadows": 0.9}],
    "contrast": [{"contrast": -0.6}, {"contrast": 0.7}],
    "saturation": [{"saturation": -0.8}, {"saturation": 0.6}],
    "vibrance": [{"vibrance": -0.5}, {"vibrance": 0.9}],
    "hue": [{"hue": -25}, {"hue": 12}],
    "sepia": [{"sepia": 0.4}, {"sepia": 1.0}],
    "split_tone": [{"split_tone": -0.8}, {"split_tone": 0.7}],
    "channel_mixer": [
        {
            "red_from_red": 1.1,
            "red_from_green": 0.2,
            "red_constant": -0.05,
            "blue_from_blue": 0.8,
            "blue_constant": 0.1,
        },
        {"green_from_red": -0.3, "green_from_green": 1.3, "green_constant": 0.04, "blue_from_green": 0.4},
    ],
    "mixer": [
        {"mix_red_green": 0.3, "mix_blue_red": -0.2},
        {"mix_red_blue": -0.4, "mix_green_red": 0.25, "mix_green_blue": 0.1, "mix_blue_green": 0.45},
    ],
    "grading": [
        {"shadows_warmth": -0.8, "midtones_tint": 0.5, "highlights_warmth": 0.9},
        {"shadows_tint": 0.7, "midtones_warmth": -0.6, "highlights_tint": -0.9, "grading_balance": 0.6},
        {"shadows_warmth": 1.0, "highlights_warmth": -1.0, "grading_balance": -0.8},
    ],
    "fade": [{"fade": 0.1}, {"fade": 0.35}],
    "vignette": [
        {"vignette_amount": -0.6, "vignette_size": 0.5, "vignette_softness": 0.3},
        {"vignette_amount": 0.5, "vignette_size": 0.8, "vignette_softness": 0.9},
        {"vignette_amount": -1.0, "vignette_size": 0.2, "vignette_softness": 1.0},  # the mask reaches the centre
    ],
    "blur": [{"blur": 0.7}, {"blur": 3.0}],
    "sharpen": [{"sharpen": 0.5}, {"sharpen": 2.0}],
}
COLOUR_ONLY = ["exposure", "contrast", "saturation", "temperature", "tint", "fade", "sepia"]
TRUTH = dict(exposure=0.3, contrast=0.25, saturation=-0.3, temperature=0.4, tint=-0.2, fade=0.08, sepia=0.3)


def imagemagick_render(look: Look, photo: Path, tmp_path: Path) -> np.ndarray:
    """The look's operators run by real ImageMagick, read back at 16 bits."""
    operators, _ = look_operators(look)
    output = tmp_path / "imagemagick.png"
    subprocess.run(["convert", str(photo), *operators, "-depth", "16", str(output)], check=True, capture_output=True)
    return load_image(output).pixels[:, :, :3]


def test_every_adjustment_but_grain_and_the_curves_has_a_translation_tested_here():
    assert sorted([*TRANSLATIONS, *NO_EQUIVALENT]) == sorted(ADJUSTMENTS)
    assert set(SETTINGS) == set(TRANSLATIONS)


@pytest.mark.parametrize(
    "name, params", [(name, params) for name, cases in SETTINGS.items() for params in cases], ids=str
)
def test_each_adjustment_in_imagemagick_is_the_look(name, params, photo, tmp_path):
    look = Look([name], params)
    expected = look.apply(load_image(photo).pixels)
    assert psnr(expected, load_image(photo).pixels) < 45  # the setting changes the photo
    assert psnr(expected, imagemagick_render(look, photo, tmp_path)) >= EXACT_DB


def test_a_look_of_every_adjustment_in_imagemagick_is_the_look(photo, tmp_path):
    params = {k: v for cases in SETTINGS.values() for k, v in cases[0].items()}
    params.update(sharpen=0.6, blur=0.8, exposure=0.4, contrast=0.3)
    look = Look(list(SETTINGS), params)
    assert psnr(look.apply(load_image(photo).pixels), imagemagick_render(look, photo, tmp_path)) >= EXACT_DB


def test_a_photo_with_alpha_gets_the_looks_colours_and_no_alpha(photo, tmp_path):
    # ImageMagick's composites and kernels would weigh colours by alpha; the look adjusts them as they are
    rgb = load_image(photo).pixels
    ramp = np.broadcast_to(np.linspace(0.1, 1, rgb.shape[1], dtype=np.float32)[None, :, None], rgb.shape[:2] + (1,))
    rgba = save_image(np.concatenate([rgb, ramp], axis=2), tmp_path / "rgba.png", bit_depth=16)
    look = Look(["blur", "highlights", "vibrance", "vignette"], {"blur": 1.2, "highlights": 0.5, "vibrance": 0.6,
                                                                  "vignette_amount": 0.4})  # fmt: skip
    rendered = imagemagick_render(look, rgba, tmp_path)
    assert load_image(tmp_path / "imagemagick.png").channels == 3
    assert psnr(look.apply(rgb), rendered) >= EXACT_DB


def test_neutral_adjustments_add_no_operator_and_grain_is_left_out():
    assert look_operators(Look(["exposure", "vignette", "grain"], {"vignette_size": 0.3})) == ([], ())
    operators, left_out = look_operators(Look(["exposure", "grain"], {"exposure": 1.0, "grain": 0.5}))
    assert operators == ["-alpha", "off", "-evaluate", "multiply", "2", "-clamp"] and left_out == ("grain",)


def look_result(tmp_path: Path, look: Look, source: Path | None) -> Path:
    """A result.json holding ``look``, as ``filterfit fit --look`` writes it."""
    space = [f"{p.name}={p.low}:{p.high}" for p in look.space()]
    sources = [None if source is None else str(source)]
    return saved_result(tmp_path, look.describe(), look.params, space, look=look.to_dict(), sources=sources)


def stated_db(stderr: str) -> float:
    return float(stderr.split("the command: ")[1].split(" dB PSNR")[0])


def test_a_look_with_a_vignette_the_command_holds_it_and_the_luts_name_it(photo, tmp_path):
    look = Look(["exposure", "saturation", "vignette"], {"exposure": 0.4, "saturation": 0.3, "vignette_amount": -0.6})
    result_json = look_result(tmp_path, look, photo)
    run = invoke("export", result_json, "--command", "--cube", tmp_path / "look.cube")
    assert run.exit_code == 0, run.output
    assert run.stdout.count("\n") == 1 and run.stdout.startswith("convert input.png -alpha off -evaluate multiply ")
    assert "-sparse-color" in run.stdout and "compose:args=-0.6,0,1,0" in run.stdout  # the vignette's mask
    assert f"dB PSNR against filterfit apply on the fit's source {photo.name} (ImageMagick ran it)" in run.stderr
    assert stated_db(run.stderr) >= EXACT_DB
    assert "leaves out vignette" in run.stderr and "leaves out grain" not in run.stderr
    # the printed command itself, run by a shell on the photo
    output = tmp_path / "by-shell.png"
    line = run.stdout.strip().replace("input.png", shlex.quote(str(photo))).replace("output.png", str(output))
    subprocess.run(line, shell=True, check=True, capture_output=True)
    # ImageMagick 6.9 truncates to 8 bits where filterfit rounds: one level off at most (plus 16-bit steps)
    by_shell = load_image(output).pixels[:, :, :3]
    assert np.abs(look.apply(load_image(photo).pixels) - by_shell).max() <= 1 / 255 + 2 / 65535


def test_grain_is_named_in_a_warning_and_counted_in_the_figure(photo, tmp_path):
    look = Look(["exposure", "grain"], {"exposure": 0.2, "grain": 0.3})
    run = invoke("export", look_result(tmp_path, look, None), "--command", "--check", photo)
    assert run.exit_code == 0, run.output
    assert "warning: the command leaves out grain: filterfit's grain is a seeded numpy noise field" in run.stderr
    assert f"against filterfit apply on {photo} " in run.stderr
    assert 25 < stated_db(run.stderr) < 35  # noise of sd 0.03 left out: 30.5 dB (measured 30.8: clipping trims some)


def test_the_check_photo_defaults_to_the_astronaut_and_subsamples_large_photos(tmp_path):
    look = Look(["fade"], {"fade": 0.2})
    assert "scikit-image's astronaut" in export_command(FitResult.load(look_result(tmp_path, look, None))).check_photo
    wide = save_image(np.random.default_rng(0).random((20, 2100, 3)).astype(np.float32), tmp_path / "wide.png")
    command = export_command(FitResult.load(look_result(tmp_path, look, tmp_path / "gone.png")), check=wide)
    assert command.check_photo == f"{wide} (subsampled 1:3)" and command.psnr >= EXACT_DB


@pytest.mark.slow
def test_a_fitted_look_exports_to_imagemagick_and_colour_science(photo, tmp_path):
    import colour  # colour-science, in the test extra: a .cube reader that is not ours

    truth = Look(COLOUR_ONLY, TRUTH)
    edited = save_image(to_float(quantize(truth.apply(load_image(photo).pixels), 8)), tmp_path / "edited.png")
    fit = invoke("fit", photo, edited, "--look", ",".join(COLOUR_ONLY), "--budget", 150, "--workers", 1,
                 "--seed", 0, "--quiet", "--out", tmp_path / "fit")  # fmt: skip  # 60 dB on the 8-bit target
    assert fit.exit_code == 0, fit.output
    result_json = tmp_path / "fit" / "result.json"
    hald, cube = tmp_path / "h.png", tmp_path / "c.cube"
    run = invoke("export", result_json, "--hald", hald, "--cube", cube, "--command")
    assert run.exit_code == 0, run.output
    print(run.stderr)  # the figures, for the record: pytest -s shows them
    assert "warning" not in run.stderr  # a colour-only look: the LUTs hold all of it
    assert stated_db(run.stderr) >= EXACT_DB
    # ImageMagick's -hald-clut against filterfit apply, the done-when
    applied = invoke("apply", result_json, photo, "--out", tmp_path / "applied", "--quiet")
    assert applied.exit_code == 0, applied.output
    through_hald = tmp_path / "through-hald.png"
    subprocess.run(["convert", str(photo), str(hald), "-hald-clut", str(through_hald)], check=True, capture_output=True)
    hald_db = psnr(load_image(tmp_path / "applied" / photo.name).pixels, load_image(through_hald).pixels[:, :, :3])
    print(f"convert photo h.png -hald-clut: {hald_db:.1f} dB PSNR against filterfit apply")
    assert hald_db >= 45  # measured 52.2 dB: ImageMagick truncates to 8 bits where filterfit rounds
    # the .cube read by colour-science holds the same table
    read = colour.read_LUT(str(cube))
    table = measure_lut(rebuild(FitResult.load(result_json))).table
    assert read.table.shape == (33, 33, 33, 3)
    assert np.abs(read.table - table.transpose(2, 1, 0, 3)).max() <= 0.5e-6 + 1e-7  # six decimals
