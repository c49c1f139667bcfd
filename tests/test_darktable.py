"""--editor darktable: darktable's module parameters, packed into an .xmp sidecar, rendered by darktable-cli."""

from __future__ import annotations

import json
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
from filterfit.editors import get_editor
from filterfit.editors.darktable import MODULES
from filterfit.errors import CommandNotFoundError, ParamError
from filterfit.filters.command import ValueFormatter, format_value
from filterfit.images import load_image
from filterfit.space import Space

pytestmark = pytest.mark.skipif(
    shutil.which("darktable-cli") is None, reason="darktable-cli is not installed (make test installs it)"
)
DARKTABLE = get_editor("darktable")
TRUTH = {"exposure_exposure": 0.4, "velvia_strength": 35.0}


def darktable(source: Path, sidecar: Path, output: Path, *options: str) -> None:
    output.unlink(missing_ok=True)  # darktable writes NAME_01.png beside a NAME.png that is there
    subprocess.run(
        ["darktable-cli", str(source), str(sidecar), str(output), "--apply-custom-presets", "false",
         "--core", "--library", ":memory:", *options],
        check=True, capture_output=True,
    )  # fmt: skip


def sidecar(names: list[str], values: dict[str, float], path: Path) -> Path:
    """The .xmp filterfit writes for these values, as a file darktable-cli can be given."""
    path.write_text(DARKTABLE.filter(names).preset(values))
    return path


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """photo.png, a 96 x 96 crop of the astronaut, and target.png, darktable's render of it with TRUTH."""
    source, target = tmp_path / "photo.png", tmp_path / "target.png"
    PILImage.fromarray(data.astronaut()[40:136, 180:276]).save(source)
    darktable(source, sidecar(list(TRUTH), TRUTH, tmp_path / "truth.xmp"), target)
    return source, target


def neutral(names) -> dict[str, float]:
    return {name: DARKTABLE.by_name[name].neutral for name in names}


def test_a_float_is_packed_as_darktable_keeps_it():
    assert format_value(1.0, "f32") == "0000803f"
    assert format_value(-4, "f32") == "000080c0"


@pytest.mark.parametrize(
    "operation, size",
    [("exposure", 24), ("colorbalancergb", 132), ("velvia", 8), ("vignette", 44), ("rgbcurve", 516)],
)
def test_each_module_is_packed_at_the_size_of_darktables_struct(operation, size):
    """sizeof(dt_iop_*_params_t) in darktable 4.2: a field missing or extra shifts every field after it."""
    assert len(bytes.fromhex(MODULES[operation].params({}))) == size
    sliders = {slider.key: slider for slider in DARKTABLE.sliders if slider.section == operation}
    template = MODULES[operation].params(sliders)
    filled = ValueFormatter().vformat(template, (), {slider.name: 0.5 for slider in sliders.values()})
    assert len(bytes.fromhex(filled)) == size


def test_the_modules_at_neutral_leave_the_photo_as_it_is(pair):
    source = load_image(pair[0])
    names = [s.name for s in DARKTABLE.sliders if s.section != "colorbalancergb"]
    editor = DARKTABLE.filter(names).prepare([source], source, single_thread=True)
    np.testing.assert_array_equal(editor.render(source, neutral(names)), source.pixels)
    # color balance rgb maps its colours into the gamut even at neutral: a fraction of a level
    every = DARKTABLE.filter(DARKTABLE.default).prepare([source], source, single_thread=True)
    at_neutral = every.render(source, neutral(DARKTABLE.default))
    assert np.sqrt(np.mean((at_neutral - source.pixels) ** 2)) * 255 < 0.5


def test_every_slider_moves_the_render(pair):
    """Each field is where darktable reads it: a slider packed into the wrong bytes would do nothing."""
    source = load_image(pair[0])
    names = [slider.name for slider in DARKTABLE.sliders]
    editor = DARKTABLE.filter(names).prepare([source], source, single_thread=False)
    start = {**neutral(names), "vignette_brightness": -0.5, "velvia_strength": 50.0}
    base = editor.render(source, start)
    for slider in DARKTABLE.sliders:
        step = 0.25 * (slider.high - slider.low)
        value = slider.neutral + step if slider.neutral + step <= slider.high else slider.neutral - step
        moved = editor.render(source, {**start, slider.name: value})
        assert np.abs(moved - base).mean() * 255 > 0.2, slider.name


def readme_command() -> list[str]:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    (block,) = [
        b for b in readme.split("```sh\n")[1:] if b.startswith("filterfit fit photo.png target.png --editor darktable")
    ]
    return shlex.split(block.split("```", 1)[0].replace("\\\n", " "))


@pytest.mark.slow
def test_the_readmes_darktable_command_finds_the_values_and_writes_a_sidecar_and_a_style_darktable_opens(
    pair, tmp_path, monkeypatch
):
    """`filterfit fit photo.png target.png --editor darktable ...`, as the README prints it."""
    command = readme_command()
    monkeypatch.chdir(tmp_path)
    outcome = CliRunner().invoke(cli, command[1:], catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["editor"] == {"name": "darktable", "sliders": ["exposure_exposure", "velvia_strength"]}
    assert result["best_params"]["exposure_exposure"] == pytest.approx(0.4, abs=0.01)
    assert result["best_params"]["velvia_strength"] == pytest.approx(35, abs=1.5)
    best = load_image(tmp_path / "out" / "best.png").pixels
    # The sidecar written is one darktable renders as it is, to the fitted result.
    darktable(tmp_path / "photo.png", tmp_path / "out" / "look.xmp", tmp_path / "by-darktable.png")
    np.testing.assert_array_equal(load_image(tmp_path / "by-darktable.png").pixels, best)
    # The style, imported by darktable's own Lua API into a fresh configuration, renders the same.
    config = tmp_path / "darktable-config"
    config.mkdir()
    importing = f'local dt = require "darktable"; dt.styles.import("{tmp_path / "out" / "look.dtstyle"}")'
    subprocess.run(
        ["darktable-cli", "photo.png", str(tmp_path / "imported.png"), "--core", "--configdir", str(config),
         "--library", ":memory:", "--luacmd", importing],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["darktable-cli", "photo.png", str(tmp_path / "styled.png"), "--style", "filterfit look", "--core",
         "--configdir", str(config), "--library", ":memory:"],
        check=True, capture_output=True,
    )  # fmt: skip
    np.testing.assert_array_equal(load_image(tmp_path / "styled.png").pixels, best)
    outcome = CliRunner().invoke(cli, ["apply", "out/result.json", "photo.png", "--out", "applied"])
    assert outcome.exit_code == 0, outcome.output
    np.testing.assert_array_equal(load_image(tmp_path / "applied" / "photo.png").pixels, best)


@pytest.mark.slow
def test_workers_render_with_darktable_at_once(pair):
    result = filterfit.fit(
        editor="darktable", space=["exposure_exposure=0:1"], source=pair[0], target=pair[1], budget=12,
        workers=2, seed=0, probes=0,
    )  # fmt: skip
    assert result.failed == 0
    assert result.evaluations >= 12


def test_a_range_may_reach_beyond_the_slider_to_what_the_module_accepts():
    (param,) = DARKTABLE.space(Space.parse(["exposure_exposure=-8:8"]))
    assert (param.low, param.high) == (-8, 8)
    with pytest.raises(ParamError, match=r"outside darktable's range for exposure: exposure \(EV\), -18:18"):
        DARKTABLE.space(Space.parse(["exposure_exposure=-20:8"]))


def test_darktable_not_installed_says_how_to_install_it(pair, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandNotFoundError, match=r"'darktable-cli' is not installed .*apt-get install darktable"):
        filterfit.fit(editor="darktable", source=pair[0], target=pair[1], budget=2)


@pytest.mark.slow
def test_darktable_develops_a_camera_raw_like_its_jpeg(tmp_path):
    pytest.importorskip("pidng")
    raw = write_dng(tmp_path / "photo.dng", data.astronaut()[100:420, 100:420])
    truth = sidecar(["exposure_exposure"], {"exposure_exposure": 1.2}, tmp_path / "truth.xmp")
    darktable(raw, truth, tmp_path / "camera.jpg")  # stands in for the camera's own JPEG
    result = filterfit.fit(
        editor="darktable", space=["exposure_exposure=0:2"], source=raw, target=tmp_path / "camera.jpg", budget=20,
        workers=1, seed=0, probes=0,
    )  # fmt: skip
    assert result.best_params["exposure_exposure"] == pytest.approx(1.2, abs=0.05)
    assert result.sources == [str(raw)]
