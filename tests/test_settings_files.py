"""Settings files: a template with {name} placeholders written for each evaluation, its path given to the command."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage
from skimage import data

import filterfit
from filterfit.cli import cli
from filterfit.errors import FilterFitError, TemplateError
from filterfit.filters import CommandFilter, as_filter
from filterfit.filters import command as command_module
from filterfit.filters.settings_file import SettingsFile
from filterfit.images import load_image
from filterfit.space import Space
from filterfit.study import DefinitionError

PROFILE = "[Exposure]\nCompensation={ev}\nContrast={contrast:.0f}\n"
RAWTHERAPEE = "rawtherapee-cli -o {output} -p {profile} -t -b8 -Y -c {input}"
needs_rawtherapee = pytest.mark.skipif(
    shutil.which("rawtherapee-cli") is None, reason="rawtherapee-cli is not installed (make test installs it)"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- the template ----------------------------------------------------------------


@pytest.mark.parametrize(
    "file_name, suffix", [("look.pp3", ".pp3"), ("look.pp3.in", ".pp3"), ("look.in", ".txt"), ("settings", ".txt")]
)
def test_the_written_file_keeps_the_templates_suffix(tmp_path, file_name, suffix):
    settings = SettingsFile.read("profile", write(tmp_path / file_name, PROFILE))
    assert settings.suffix == suffix and settings.placeholders() == ["ev", "contrast"]
    assert settings.render({"ev": 0.25, "contrast": 19.6}) == "[Exposure]\nCompensation=0.25\nContrast=20\n"


def test_values_are_formatted_never_interpreted(tmp_path):
    settings = SettingsFile("script", "value={v}\nliteral={{braces}}\n", ".txt")
    assert settings.render({"v": "{x}; rm -rf /"}) == "value={x}; rm -rf /\nliteral={braces}\n"
    assert settings.render({"v": 1e-5}) == "value=0.00001\nliteral={braces}\n"  # no exponent a program may not parse


def test_a_command_gets_the_written_files_path_and_nothing_stays_behind(tmp_path, monkeypatch):
    # A plain PPM is a settings file ImageMagick reads by its path: a colour to multiply the photo by.
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "photo.png"
    PILImage.fromarray(data.astronaut()[:32, :32]).save(source)
    colour = SettingsFile("colour", "P3\n1 1\n255\n{r} {g} 255\n", ".ppm")
    filter = CommandFilter(
        "convert {input} ( {colour} -scale 32x32! ) -compose multiply -composite {output}", files=(colour,)
    )
    filter.check(Space.parse(["r=0:255:int", "g=0:255:int"]))
    photo = load_image(source)
    render = filter.render(photo, {"r": 255, "g": 0})
    np.testing.assert_allclose(render[:, :, 0], photo.pixels[:, :, 0], atol=1 / 255)
    assert render[:, :, 1].max() == 0
    assert not list(command_module._scratch_folder().glob("colour-*")) and list(tmp_path.iterdir()) == [source]


# -- mistakes, each one clear line -------------------------------------------------


def test_a_settings_file_the_command_does_not_name_is_an_error():
    with pytest.raises(
        TemplateError, match=r"settings file for \{profile\} .* but the command has no \{profile\}: write"
    ):
        CommandFilter("convert {input} {output}", files=(SettingsFile("profile", PROFILE, ".pp3"),))


def test_a_placeholder_no_param_defines_names_the_file_and_line(tmp_path):
    filter = as_filter(RAWTHERAPEE, files={"profile": write(tmp_path / "look.pp3", PROFILE)})
    with pytest.raises(
        TemplateError, match=r"look.pp3 line 3 uses \{contrast\} but no --param contrast=\.\.\. defines"
    ):
        filter.check(Space.parse(["ev=-2:2"]))


def test_a_parameter_used_nowhere_is_an_error(tmp_path):
    filter = as_filter(RAWTHERAPEE, files={"profile": write(tmp_path / "look.pp3", PROFILE)})
    with pytest.raises(TemplateError, match=r"parameter gamma is not used in the command or its settings files"):
        filter.check(Space.parse(["ev=-2:2", "contrast=-50:50", "gamma=0:1"]))


def test_braces_that_do_not_parse_name_the_line(tmp_path):
    with pytest.raises(TemplateError, match=r"look.pp3 line 2 has unbalanced braces .* write \{\{ and \}\}"):
        SettingsFile.read("profile", write(tmp_path / "look.pp3", "[Exposure]\nCompensation={ev\n"))


def test_a_missing_settings_file_is_one_line(tmp_path):
    with pytest.raises(FilterFitError, match=r"settings file not found: .*nope.pp3 \(check the path\)"):
        as_filter(RAWTHERAPEE, files={"profile": tmp_path / "nope.pp3"})


@pytest.mark.parametrize(
    "args, message",
    [
        (["--settings", "look.pp3"], r"error: --settings takes NAME=FILE \(e.g. --settings profile=look.pp3\)"),
        (["--settings", "pro-file=look.pp3"], r"error: --settings pro-file=look.pp3: 'pro-file' is not a placeholder"),
        (["--settings", "profile=missing.pp3"], r"error: settings file not found: missing.pp3 \(check the path\)"),
    ],
)
def test_the_command_line_says_what_is_wrong_with_settings(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    PILImage.fromarray(data.astronaut()[:16, :16]).save("photo.tif")
    outcome = CliRunner().invoke(
        cli, ["fit", "photo.tif", "photo.tif", "--command", RAWTHERAPEE, "--param", "ev=-2:2", *args]
    )
    assert outcome.exit_code == 2, outcome.output
    assert len(outcome.output.strip().splitlines()) == 1
    assert outcome.output.startswith("error: ") and re.search(message, outcome.output), outcome.output


# -- RawTherapee, for real ------------------------------------------------------------


@pytest.fixture
def rawtherapee_pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A 64 x 64 TIFF crop of the astronaut and RawTherapee's own render of it at ev 0.7, contrast 20."""
    source, target = tmp_path / "photo.tif", tmp_path / "target.tif"
    PILImage.fromarray(data.astronaut()[40:104, 180:244]).save(source)
    truth = write(tmp_path / "truth.pp3", "[Exposure]\nCompensation=0.7\nContrast=20\n")
    subprocess.run(
        ["rawtherapee-cli", "-o", str(target), "-p", str(truth), "-t", "-b8", "-Y", "-c", str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return source, target, write(tmp_path / "look.pp3", PROFILE)


def readme_example() -> tuple[str, list[str]]:
    """The README's look.pp3 and its `filterfit fit ... --settings profile=look.pp3 ...` command, as printed."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Programs that read their settings from a file") :]
    profile = section.split("```ini\n", 1)[1].split("```", 1)[0]
    command = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    return profile, shlex.split(command)


@needs_rawtherapee
@pytest.mark.slow
def test_the_readmes_rawtherapee_command_recovers_its_sliders(rawtherapee_pair, tmp_path, monkeypatch):
    """`filterfit fit photo.tif target.tif --command '...' --settings profile=look.pp3 ...`, as the README prints it."""
    profile, command = readme_example()
    assert profile == PROFILE and command[:2] == ["filterfit", "fit"]
    monkeypatch.chdir(tmp_path)
    outcome = CliRunner().invoke(cli, command[1:], catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["best_params"]["ev"] == pytest.approx(0.7, abs=0.05)
    assert result["best_params"]["contrast"] == pytest.approx(20, abs=2)
    assert result["files"]["profile"]["text"] == PROFILE
    written = (tmp_path / "out" / "profile.pp3").read_text()
    assert written.startswith("[Exposure]\nCompensation=0.")  # the best values, a profile RawTherapee opens
    outcome = CliRunner().invoke(cli, ["apply", "out/result.json", "photo.tif", "--out", "again"])
    assert outcome.exit_code == 0, outcome.output
    (again,) = (tmp_path / "again").iterdir()
    np.testing.assert_array_equal(load_image(again).pixels, load_image(tmp_path / "out" / "best.png").pixels)
    outcome = CliRunner().invoke(cli, ["export", "out/result.json", "--command"])
    assert outcome.exit_code == 0, outcome.output
    assert "rawtherapee-cli -o output.png -p profile.pp3 -t -b8 -Y -c input.png" in outcome.output


@needs_rawtherapee
def test_a_study_of_other_settings_files_is_refused(rawtherapee_pair, tmp_path):
    source, target, profile = rawtherapee_pair
    out = tmp_path / "out"
    space = ["ev=-2:2", "contrast=-50:50"]
    filterfit.fit(RAWTHERAPEE, space, source, target, files={"profile": profile}, budget=2, probes=0, out=out)
    other = write(tmp_path / "other.pp3", PROFILE + "Saturation=10\n")
    with pytest.raises(DefinitionError, match=r"its set of settings files differs"):
        filterfit.fit(RAWTHERAPEE, space, source, target, files={"profile": other}, budget=4, probes=0, out=out)


@needs_rawtherapee
@pytest.mark.slow
def test_a_key_the_program_ignores_is_flagged_as_having_no_effect(rawtherapee_pair):
    source, target, _ = rawtherapee_pair
    profile = write(source.parent / "typo.pp3", "[Exposure]\nCompensation={ev}\nContrast=20\nCompensaton={typo}\n")
    result = filterfit.fit(
        RAWTHERAPEE, ["ev=-2:2", "typo=-2:2"], source, target, files={"profile": profile}, budget=40, seed=0
    )
    assert result.best_params["ev"] == pytest.approx(0.7, abs=0.05)
    assert any(flag.startswith("no effect") for flag in result.flags["typo"]), result.flags
