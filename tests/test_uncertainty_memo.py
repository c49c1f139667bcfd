"""Uncertainty on the memo's blur, with real ImageMagick on the demo's 512x512 photo.

ImageMagick 6 makes the blur kernel floor(2 x radius) + 1 pixels wide, so the
radius acts in steps of 0.5; past about 4 sigma the kernel's tail is below
what 8 bits show, and only the kernel width's parity still matters (even
widths shift the image by half a pixel).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from skimage import data

import filterfit
from filterfit.demo import PARAMS, TEMPLATE
from filterfit.images import save_image, to_float

pytestmark = [pytest.mark.slow, pytest.mark.requires("convert")]


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_image(to_float(data.astronaut()), tmp_path_factory.mktemp("memo") / "photo.png")


def blurred(photo: Path, geometry: str) -> Path:
    target = photo.parent / f"blur-{geometry}.png"
    subprocess.run(["convert", str(photo), "-blur", geometry, str(target)], check=True)
    return target


def test_a_radius_far_past_4_sigma_has_no_effect(photo: Path, tmp_path: Path) -> None:
    result = filterfit.fit(TEMPLATE, PARAMS, photo, blurred(photo, "80x5"), budget=200, seed=0, workers=2, out=tmp_path)
    (no_effect,) = [flag for flag in result.flags["radius"] if flag.startswith("no effect")]
    low, high = map(float, re.fullmatch(r"no effect in \[([\d.]+), ([\d.]+)\].*", no_effect).groups())  # type: ignore[union-attr]
    assert 20 <= low <= 35 and high >= 95  # from about 4 sigma (20) to the end of the range
    sigma_low, sigma_high = result.uncertainty["sigma"]
    assert sigma_low <= 5 <= sigma_high and sigma_high - sigma_low < 0.1
    assert 0 < len(result.probes) <= 80
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert no_effect in page


def test_the_memo_blur_radius_acts_in_steps_of_half_a_pixel(photo: Path) -> None:
    result = filterfit.fit(TEMPLATE, PARAMS, photo, blurred(photo, "27x20"), budget=200, seed=0, workers=2)
    assert "acts in steps (renders identical within 0.5)" in result.flags["radius"]
    assert result.uncertainty["radius"] == pytest.approx([27, 27.5])  # [27, 27.5): kernel width 55
    sigma_low, sigma_high = result.uncertainty["sigma"]
    assert sigma_low <= 20 <= sigma_high and sigma_high - sigma_low < 0.1
    assert list(result.flags) == ["radius"]  # sigma's render drifts a level in a few pixels: not a step
