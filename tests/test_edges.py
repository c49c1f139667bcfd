"""The flag for a best value at an end of its range: the rule, then command, function and look fits end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from filterfit.edges import edge_flags
from filterfit.space import Space

SCRIPT = [str(Path(sys.executable).parent / "filterfit")]
UPPER = "at the upper edge of 0.5:4: the answer may lie beyond; widen the range (--param s=...)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (4.0, [UPPER]),
        (3.99, [UPPER]),  # 0.29 % of the range from the end
        (3.97, []),  # 0.86 %: inside
        (2.0, []),
        (0.51, ["at the lower edge of 0.5:4: the answer may lie beyond; widen the range (--param s=...)"]),
    ],
)
def test_a_value_within_half_a_percent_of_an_end_is_flagged(value, expected):
    flags = edge_flags(Space.parse(["s=0.5:4"]), {"s": value}, {}, exact=False)
    assert flags.get("s", []) == expected


def test_an_exact_render_or_a_parameter_of_no_effect_is_not_flagged():
    space = Space.parse(["s=0.5:4", "radius=0:100"])
    best = {"s": 4.0, "radius": 100.0}
    assert edge_flags(space, best, {}, exact=True) == {}
    no_effect = {"radius": ["no effect in [27, 100]"]}
    assert edge_flags(space, best, no_effect, exact=False) == {"radius": ["no effect in [27, 100]"], "s": [UPPER]}


def test_a_log_range_is_measured_in_log_units():
    space = Space.parse(["sigma=0.1:100:log"])
    assert edge_flags(space, {"sigma": 95.0}, {}, exact=False) == {}  # 0.74 % of the log range below the end
    assert "sigma" in edge_flags(space, {"sigma": 99.5}, {}, exact=False)


def test_a_looks_own_limit_is_named_as_such_and_its_neutral_end_is_no_limit():
    space = Space.parse(["contrast=-1:1", "fade=0:0.5", "choice=a,b"])
    flags = edge_flags(
        space, {"contrast": 1.0, "fade": 0.0, "choice": "a"}, {}, exact=False, neutral={"contrast": 0.0, "fade": 0.0}
    )
    assert flags == {
        "contrast": ["at the upper limit of its range -1:1: the photo may need more than contrast can give"]
    }


# -- through the command line and fit() -----------------------------------------------------------


def run(*args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([*SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def blurred(small_photo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The 32x32 photo and its ``convert -blur 0x6``."""
    target = tmp_path_factory.mktemp("edges") / "blurred.png"
    subprocess.run(["convert", str(small_photo), "-blur", "0x6", str(target)], check=True, capture_output=True)
    return small_photo, target


@pytest.mark.requires("convert")
def test_a_command_fit_ending_at_its_range_says_so_in_the_table_the_json_and_the_report(blurred, tmp_path):
    out = tmp_path / "out"
    command = ["fit", *blurred, "--command", "convert {input} -blur 0x{s} {output}", "--param", "s=0.5:4"]
    done = run(*command, "--budget", 30, "--workers", 2, "--seed", 0, "--out", out)
    assert done.returncode == 0, done.stderr
    assert UPPER in done.stdout  # the table (wide enough not to wrap it)
    result = json.loads((out / "result.json").read_text())
    assert result["best_params"]["s"] == pytest.approx(4, abs=0.0175)
    assert UPPER in result["flags"]["s"]
    assert UPPER in (out / "report.html").read_text()

    widened = run(*command[:-1], "s=0.5:10", "--budget", 60, "--workers", 2, "--seed", 0, "--json")
    assert widened.returncode == 0, widened.stderr
    answer = json.loads(widened.stdout)
    assert answer["best_params"]["s"] == pytest.approx(6, abs=0.01)
    assert not any("edge" in flag for flags in answer["flags"].values() for flag in flags)


def test_a_function_fit_at_its_bound_is_flagged(small_pixels):
    import filterfit

    target = np.clip(small_pixels * 1.5, 0, 1)
    result = filterfit.fit(
        lambda image, gain: np.clip(image * gain, 0, 1), ["gain=0.5:1.2"], small_pixels, target, seed=0, workers=1
    )
    assert result.best_params["gain"] == pytest.approx(1.2)
    assert result.flags["gain"] == [
        "at the upper edge of 0.5:1.2: the answer may lie beyond; widen the range (--param gain=...)"
    ]


@pytest.mark.requires("convert")
def test_a_look_pinned_at_its_contrast_limit_says_so(small_photo, tmp_path):
    target = tmp_path / "contrasty.png"
    subprocess.run(["convert", str(small_photo), "-sigmoidal-contrast", "25x50%", str(target)], check=True)
    done = run("fit", small_photo, target, "--look", "contrast,fade", "--workers", 1, "--seed", 0, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["best_params"]["contrast"] == pytest.approx(1, abs=0.01)
    limit = "at the upper limit of its range -1:1: the photo may need more than contrast can give"
    assert limit in result["flags"]["contrast"]
    assert not any("limit" in flag or "edge" in flag for flag in result["flags"].get("fade", []))
