"""--editor gimp: GIMP's colour tools called by a Script-Fu script, rendered by a GIMP kept running per worker."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage
from skimage import data

import filterfit
from filterfit.cli import cli
from filterfit.editors import get_editor, script_fu
from filterfit.errors import CommandNotFoundError, EvaluationError, ImageError
from filterfit.images import load_image

pytestmark = pytest.mark.skipif(
    shutil.which("gimp-console") is None, reason="gimp-console is not installed (make test installs it)"
)
GIMP = get_editor("gimp")
TRUTH = {"levels_gamma": 1.4, "hue_saturation_saturation": 30.0}


def gimp_batch(script: Path, source: Path, output: Path, config: Path, bits: int = 8) -> None:
    """The look.scm run by a GIMP started for it, as its first comment tells a user to."""
    call = f'(begin (load "{script}") (filterfit-look-file "{source}" "{output}" {bits}))'
    subprocess.run(
        ["gimp-console", "-i", "-d", "-f", "-n", "-b", call, "-b", "(gimp-quit 0)"],
        check=True, capture_output=True, env=dict(os.environ, XDG_CONFIG_HOME=str(config)), timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    """photo.png, a 96 x 96 crop of the astronaut, and target.png, GIMP's render of it with TRUTH (made once:
    a GIMP started for it takes seconds)."""
    folder = tmp_path_factory.mktemp("gimp")
    source, target = folder / "photo.png", folder / "target.png"
    PILImage.fromarray(data.astronaut()[40:136, 180:276]).save(source)
    (folder / "truth.scm").write_text(GIMP.filter(list(TRUTH)).preset(TRUTH))
    gimp_batch(folder / "truth.scm", source, target, folder / "config")
    return source, target


@pytest.fixture
def pair(made, tmp_path: Path) -> tuple[Path, Path]:
    """The pair, copied into this test's own folder."""
    return Path(shutil.copy(made[0], tmp_path)), Path(shutil.copy(made[1], tmp_path))


def neutral(names) -> dict[str, float]:
    return {name: GIMP.by_name[name].neutral for name in names}


def test_the_tools_at_neutral_leave_the_photo_as_it_is(pair):
    source = load_image(pair[0])
    names = [slider.name for slider in GIMP.sliders]
    editor = GIMP.filter(names).prepare([source], source, single_thread=True)
    assert isinstance(editor, script_fu.ScriptFuFilter)
    at_neutral = editor.render(source, neutral(names))
    levels = np.rint(np.abs(at_neutral - source.pixels) * 255)
    assert levels.max() <= 1  # the curve's spline may round a level


def test_every_slider_moves_the_render(pair):
    """Each slider is an argument of its procedure, where GIMP reads it."""
    source = load_image(pair[0])
    names = [slider.name for slider in GIMP.sliders]
    editor = GIMP.filter(names).prepare([source], source, single_thread=True)
    base = editor.render(source, neutral(names))
    for slider in GIMP.sliders:
        step = 0.25 * (slider.high - slider.low)
        value = slider.neutral + step if slider.neutral + step <= slider.high else slider.neutral - step
        moved = editor.render(source, {**neutral(names), slider.name: value})
        assert np.abs(moved - base).mean() * 255 > 0.2, slider.name


def test_a_kept_running_gimp_renders_what_a_gimp_started_for_it_renders(pair, tmp_path):
    source = load_image(pair[0])
    editor = GIMP.filter(list(TRUTH)).prepare([source], source, single_thread=True)
    np.testing.assert_array_equal(editor.render(source, TRUTH), load_image(pair[1]).pixels)


def test_a_16_bit_target_is_rendered_at_16_bits(pair, tmp_path):
    wide = tmp_path / "wide.png"
    PILImage.fromarray((load_image(pair[0]).pixels * 65535).astype(np.uint16)[..., 0]).save(wide)  # grey, 16 bits
    source = load_image(pair[0])
    target = load_image(wide)
    assert target.bit_depth == 16
    editor = GIMP.filter(["levels_gamma"]).prepare([source], target, single_thread=True)
    pixels = editor.render(source, {"levels_gamma": 1.3})
    levels = np.unique(np.round(pixels * 65535))
    assert np.any(levels % 257 != 0)  # values between the 8-bit levels: GIMP worked at 16 bits


def readme_command() -> list[str]:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    (block,) = [
        b for b in readme.split("```sh\n")[1:] if b.startswith("filterfit fit photo.png target.png --editor gimp")
    ]
    return shlex.split(block.split("```", 1)[0].replace("\\\n", " "))


@pytest.mark.slow
def test_the_readmes_gimp_command_finds_the_values_and_writes_a_script_gimp_runs(pair, tmp_path, monkeypatch):
    """`filterfit fit photo.png target.png --editor gimp ...`, as the README prints it."""
    command = readme_command()
    monkeypatch.chdir(tmp_path)
    outcome = CliRunner().invoke(cli, command[1:], catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["editor"] == {"name": "gimp", "sliders": list(TRUTH)}
    assert result["best_params"]["levels_gamma"] == pytest.approx(1.4, abs=0.02)
    assert result["best_params"]["hue_saturation_saturation"] == pytest.approx(30, abs=1)
    best = load_image(tmp_path / "out" / "best.png").pixels
    assert np.sqrt(np.mean((best - load_image(pair[1]).pixels) ** 2)) * 255 < 0.5
    # The command `export --command` prints runs look.scm in a GIMP started for it: it renders best.png.
    printed = CliRunner().invoke(cli, ["export", "out/result.json", "--command"])
    assert printed.exit_code == 0, printed.output
    argv = shlex.split(printed.output.splitlines()[0].replace("input.png", "../photo.png"))
    subprocess.run(
        [word.replace("output.png", "../by-gimp.png") for word in argv],
        check=True, capture_output=True, cwd=tmp_path / "out", timeout=120,
        env=dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "c")),
    )  # fmt: skip
    np.testing.assert_array_equal(load_image(tmp_path / "by-gimp.png").pixels, best)
    # Installed in GIMP's scripts folder, it registers its menu entry's procedure, which GIMP runs.
    scripts = tmp_path / "installed" / "GIMP" / "2.10" / "scripts"
    scripts.mkdir(parents=True)
    shutil.copy(tmp_path / "out" / "look.scm", scripts)
    menu = (
        '(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE "photo.png" "photo.png")))'
        " (drawable (car (gimp-image-get-active-drawable image))))"
        " (script-fu-filterfit-look image drawable)"
        ' (file-png-save2 RUN-NONINTERACTIVE image drawable "by-menu.png" "by-menu.png" 0 0 0 0 0 0 0 0 0))'
    )
    subprocess.run(
        ["gimp-console", "-i", "-d", "-f", "-n", "-b", menu, "-b", "(gimp-quit 0)"],
        check=True, capture_output=True, env=dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "installed")), timeout=120,
    )  # fmt: skip
    np.testing.assert_array_equal(load_image(tmp_path / "by-menu.png").pixels, best)
    outcome = CliRunner().invoke(cli, ["apply", "out/result.json", "photo.png", "--out", "applied"])
    assert outcome.exit_code == 0, outcome.output
    np.testing.assert_array_equal(load_image(tmp_path / "applied" / "photo.png").pixels, best)


@pytest.mark.slow
def test_each_worker_keeps_its_own_gimp(pair):
    result = filterfit.fit(
        editor="gimp", space=["levels_gamma=1:2"], source=pair[0], target=pair[1], budget=12, workers=2, seed=0,
        probes=0,
    )  # fmt: skip
    assert result.failed == 0
    assert result.best_params["levels_gamma"] == pytest.approx(1.4, abs=0.05)


def test_a_value_gimp_refuses_fails_that_evaluation_and_the_next_goes_on(pair):
    source = load_image(pair[0])
    editor = GIMP.filter(["levels_gamma"]).prepare([source], source, single_thread=True)
    with pytest.raises(EvaluationError, match=r"GIMP: .*gimp-drawable-levels"):
        editor.render(source, {"levels_gamma": 50.0})  # the procedure takes 0.1 to 10
    assert editor.render(source, {"levels_gamma": 1.0}).shape == source.pixels.shape


def test_a_gimp_that_dies_is_replaced_and_one_that_hangs_is_killed(pair):
    source = load_image(pair[0])
    editor = GIMP.filter(["levels_gamma"]).prepare([source], source, single_thread=True)
    editor.render(source, {"levels_gamma": 1.0})
    for idle in list(script_fu._IDLE[True]):  # died between evaluations: the next one starts another GIMP
        os.killpg(idle.process.pid, signal.SIGKILL)
        idle.process.wait()
    assert editor.render(source, {"levels_gamma": 1.2}).shape == source.pixels.shape
    gimp = script_fu._borrow(True)
    with pytest.raises(EvaluationError, match="GIMP has ended: exit code 0"):
        gimp.ask("(gimp-quit 0)", 30)  # dies during an evaluation: that one fails
    script_fu._give_back(gimp)
    assert gimp not in script_fu._IDLE[True]
    gimp = script_fu._borrow(True)
    with pytest.raises(EvaluationError, match="timed out after 0.5 s"):
        gimp.ask("(let loop ((i 0)) (loop (+ i 1)))", 0.5)
    assert not gimp.alive
    script_fu._give_back(gimp)
    assert gimp not in script_fu._IDLE[True]


def test_gimp_does_not_develop_a_camera_raw(pair, tmp_path):
    raw = tmp_path / "photo.dng"
    raw.write_bytes(b"II*\x00")  # named as a RAW file: refused before anything reads it
    with pytest.raises(ImageError, match="GIMP does not develop camera RAW files like photo.dng: fit --editor"):
        filterfit.fit(editor="gimp", source=raw, target=pair[1], budget=2)


def test_gimp_not_installed_says_how_to_install_it(pair, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandNotFoundError, match=r"'gimp-console' is not installed .*apt-get install gimp"):
        filterfit.fit(editor="gimp", source=pair[0], target=pair[1], budget=2)
