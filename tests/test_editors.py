"""--editor rawtherapee: RawTherapee's own sliders, written into its .pp3 profile, rendered by rawtherapee-cli."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from camera_raw import write_dng
from click.testing import CliRunner
from PIL import Image as PILImage
from skimage import data

import filterfit
from filterfit.cli import cli
from filterfit.editors import RAWTHERAPEE, get_editor
from filterfit.errors import CommandNotFoundError, FilterFitError, ParamError
from filterfit.images import load_image
from filterfit.space import Space

pytestmark = pytest.mark.skipif(
    shutil.which("rawtherapee-cli") is None, reason="rawtherapee-cli is not installed (make test installs it)"
)
TRUTH = "[Exposure]\nCompensation=0.7\nContrast=20\n"


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """photo.png, a 64 x 64 crop of the astronaut, and target.png, RawTherapee's render of it at ev 0.7, contrast 20."""
    source, tiff, target = tmp_path / "photo.png", tmp_path / "photo.tif", tmp_path / "target.png"
    crop = data.astronaut()[40:104, 180:244]
    PILImage.fromarray(crop).save(source)
    PILImage.fromarray(crop).save(tiff)  # rawtherapee-cli does not open PNG
    (tmp_path / "truth.pp3").write_text(TRUTH)
    rawtherapee(tmp_path / "truth.pp3", tiff, target)
    return source, target


def rawtherapee(profile: Path, source: Path, output: Path) -> None:
    subprocess.run(
        ["rawtherapee-cli", "-q", "-o", str(output), "-p", str(profile), "-n", "-b8", "-Y", "-c", str(source)],
        check=True, capture_output=True,
    )  # fmt: skip


def test_the_default_sliders_at_neutral_leave_the_photo_exactly_as_it_is(pair):
    source = load_image(pair[0])
    editor = RAWTHERAPEE.filter(RAWTHERAPEE.default).prepare([source], source, single_thread=True)
    neutral = {name: RAWTHERAPEE.by_name[name].neutral for name in RAWTHERAPEE.default}
    np.testing.assert_array_equal(editor.render(source, neutral), source.pixels)
    moved = editor.render(source, {**neutral, "exposure_brightness": 50, "vibrance_pastels": 50})
    assert np.abs(moved - source.pixels).mean() > 0.05


def test_the_profile_is_rawtherapees_own_sections_and_keys():
    sliders = [RAWTHERAPEE.by_name[n] for n in ("exposure_compensation", "vibrance_pastels", "tone_curve_darks")]
    assert RAWTHERAPEE.settings(sliders) == (
        "[Exposure]\nCompensation={exposure_compensation}\nCurveMode=Standard\n"
        "Curve=2;0.25;0.5;0.75;0;0;{tone_curve_darks:.0f};0;\n\n"
        "[Vibrance]\nEnabled=true\nPastels={vibrance_pastels:.0f}\n"
    )


def readme_command() -> list[str]:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### A photo editor's own sliders") :]
    command = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    return shlex.split(command)


@pytest.mark.slow
def test_the_readmes_editor_command_finds_the_sliders_and_writes_a_profile_rawtherapee_opens(
    pair, tmp_path, monkeypatch
):
    """`filterfit fit photo.png target.png --editor rawtherapee ...`, as the README prints it."""
    command = readme_command()
    assert command[:4] == ["filterfit", "fit", "photo.png", "target.png"]
    monkeypatch.chdir(tmp_path)
    outcome = CliRunner().invoke(cli, command[1:], catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["editor"] == {"name": "rawtherapee", "sliders": ["exposure_compensation", "exposure_contrast"]}
    assert result["best_params"]["exposure_compensation"] == pytest.approx(0.7, abs=0.02)
    assert result["best_params"]["exposure_contrast"] == 20
    # The profile written is one RawTherapee renders as it is, to the fitted result.
    rawtherapee(tmp_path / "out" / "look.pp3", tmp_path / "photo.tif", tmp_path / "by-rawtherapee.png")
    by_rawtherapee = load_image(tmp_path / "by-rawtherapee.png").pixels
    np.testing.assert_array_equal(by_rawtherapee, load_image(tmp_path / "out" / "best.png").pixels)
    outcome = CliRunner().invoke(cli, ["apply", "out/result.json", "photo.png", "--out", "styled"])
    assert outcome.exit_code == 0, outcome.output
    np.testing.assert_array_equal(load_image(tmp_path / "styled" / "photo.png").pixels, by_rawtherapee)
    outcome = CliRunner().invoke(cli, ["export", "out/result.json", "--command"])
    assert outcome.exit_code == 0, outcome.output
    assert "rawtherapee-cli -q -o output.png -p look.pp3 -n -b8 -Y -c input.png" in outcome.output
    assert "the command reads look.pp3: the settings --out wrote beside result.json" in outcome.output


def test_a_fit_from_python_names_the_editor_and_its_sliders(pair):
    result = filterfit.fit(
        editor="rawtherapee", space=["exposure_compensation=0:1"], source=pair[0], target=pair[1], budget=12,
        workers=2, seed=0, probes=0,
    )  # fmt: skip
    assert result.editor == {"name": "rawtherapee", "sliders": ["exposure_compensation"]}
    assert result.filter == "rawtherapee: exposure_compensation"


# -- mistakes, one line each --------------------------------------------------------------


def test_an_unknown_editor_names_the_ones_there_are():
    with pytest.raises(FilterFitError, match=r"unknown editor 'photoshop'; the editors are rawtherapee"):
        get_editor("photoshop")


def test_a_slider_the_editor_has_not_is_one_line_with_the_sliders():
    with pytest.raises(ParamError, match=r"RawTherapee has no slider exposure that filterfit knows; its sliders are "):
        RAWTHERAPEE.space(Space.parse(["exposure=-1:1"]))


def test_a_range_beyond_the_editors_is_refused():
    with pytest.raises(
        ParamError, match=r"exposure_contrast=-200:50 is outside RawTherapee's range for Contrast, -100"
    ):
        RAWTHERAPEE.space(Space.parse(["exposure_contrast=-200:50"]))


def test_a_whole_number_slider_stays_one_whatever_the_range_says():
    (param,) = RAWTHERAPEE.space(Space.parse(["exposure_contrast=-50:50"]))
    assert param.kind == "int"


def test_an_editor_that_is_not_installed_says_how_to_install_it(pair, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandNotFoundError, match=r"'rawtherapee-cli' is not installed .*apt-get install rawtherapee"):
        filterfit.fit(editor="rawtherapee", source=pair[0], target=pair[1], budget=2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--editor", "rawtherapee", "--look"], r"error: give either --look or --editor, not both"),
        (["--editor", "photoshop"], r"error: unknown editor .photoshop.; the editors are rawtherapee, darktable, gimp"),
        (["--editor", "rawtherapee", "--param", "ev=-1:1"], r"error: RawTherapee has no slider ev that filterfit"),
    ],
)
def test_the_command_line_says_what_is_wrong(pair, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    outcome = CliRunner().invoke(cli, ["fit", "photo.png", "target.png", *args])
    assert outcome.exit_code == 2, outcome.output
    assert len(outcome.output.strip().splitlines()) == 1 and re.search(message, outcome.output), outcome.output


# -- camera RAW sources ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_readmes_raw_command_develops_a_camera_raw_like_its_jpeg(tmp_path, monkeypatch):
    """`filterfit fit photo.dng camera.jpg --editor rawtherapee ...`, as the README prints it."""
    pytest.importorskip("pidng")
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    (command,) = [line for line in readme.splitlines() if line.startswith("filterfit fit photo.dng camera.jpg")]
    monkeypatch.chdir(tmp_path)
    # RawTherapee opens a DNG of 320 x 320 pixels but not one of 256 x 256: the photo is a 320 x 320 crop.
    raw = write_dng(tmp_path / "photo.dng", data.astronaut()[100:420, 100:420])
    (tmp_path / "truth.pp3").write_text("[Exposure]\nCompensation=0.7\n")
    subprocess.run(
        ["rawtherapee-cli", "-q", "-o", "camera.jpg", "-p", "truth.pp3", "-j95", "-Y", "-c", str(raw)],
        check=True, capture_output=True,
    )  # fmt: skip  # stands in for the camera's own JPEG
    outcome = CliRunner().invoke(cli, shlex.split(command)[1:], catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["best_params"]["exposure_compensation"] == pytest.approx(0.7, abs=0.02)
    assert result["sources"] == [str(raw)]
    developed = load_image(tmp_path / "out" / "best.png").pixels
    assert developed.shape == load_image(tmp_path / "camera.jpg").pixels.shape  # RawTherapee crops its border


def test_a_fit_takes_photos_as_arrays_too(pair):
    source, target = (np.asarray(PILImage.open(path)) for path in pair)
    result = filterfit.fit(
        editor="rawtherapee", space=["exposure_compensation=0:1"], source=source, target=target, budget=6,
        workers=1, seed=0, probes=0,
    )  # fmt: skip
    assert 0 <= result.best_params["exposure_compensation"] <= 1


def test_filterfit_does_not_decode_a_raw_itself_and_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("photo.dng").write_bytes(b"II*\x00" + bytes(100))  # a TIFF header, as a DNG has
    PILImage.fromarray(data.astronaut()[:16, :16]).save("target.png")
    outcome = CliRunner().invoke(cli, ["fit", "photo.dng", "target.png", "--look"])
    assert outcome.exit_code == 2, outcome.output
    assert outcome.output.strip() == (
        "error: photo.dng is a camera RAW file, which filterfit does not develop: fit a photo editor's sliders "
        "(--editor rawtherapee or darktable), which opens it as it is, or give a developed TIFF or PNG"
    )
