"""A reference of another scene read as a target: its black and white points, a vignette as the evidence allows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage
from skimage import data

import filterfit
from filterfit import Look
from filterfit.cli import cli
from filterfit.images import Image, quantize, to_float
from filterfit.look.reference import NATURAL_BLACK, NATURAL_WHITE, read_reference
from filterfit.metrics import psnr

LOOK = Look(["temperature", "fade", "vignette"], {"temperature": 0.5, "fade": 0.3, "vignette_amount": -0.6})


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return to_float(data.coffee()[::2, ::2])


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    return to_float(data.chelsea())


def natural_ramp(size: int = 256) -> np.ndarray:
    """A grey ramp whose 1st and 99th percentiles are a natural photo's black and white points."""
    values = np.linspace(0, 1, size, dtype=np.float32)
    values = NATURAL_BLACK + (values - 0.01) / 0.98 * (NATURAL_WHITE - NATURAL_BLACK)
    return np.tile(values[np.newaxis, :, np.newaxis], (size, 1, 3))


def test_a_natural_photo_takes_the_references_black_and_white_points(coffee):
    reference = to_float(quantize(Look(["fade", "temperature"], {"fade": 0.4, "temperature": 0.6}).apply(coffee), 8))
    target, reading = read_reference(Image(natural_ramp()), Image(reference))
    low, high = np.percentile(target.pixels.reshape(-1, 3), [1, 99], axis=0)
    np.testing.assert_allclose(low, reading.black, atol=0.01)
    np.testing.assert_allclose(high, reading.white, atol=0.01)
    expected_low, expected_high = np.percentile(reference.reshape(-1, 3), [1, 99], axis=0)
    np.testing.assert_allclose(reading.black, expected_low, atol=1e-6)
    np.testing.assert_allclose(reading.white, expected_high, atol=1e-6)
    assert reading.black[0] > reading.black[2]  # a warm fade lifts red's black more than blue's


def test_a_scenes_own_fall_off_is_no_evidence_of_a_vignette(chelsea):
    _, reading = read_reference(Image(chelsea), Image(chelsea))
    assert reading.vignette_evidence == 0 and reading.corners == 1


def test_a_vignette_far_stronger_than_a_scenes_is_applied_nearly_whole(coffee):
    flat = np.full_like(coffee, 0.5)  # a scene with no fall-off of its own: any is the look's
    reference = Look(["vignette"], {"vignette_amount": -0.8}).apply(coffee)
    target, reading = read_reference(Image(flat), Image(reference))
    assert reading.vignette_evidence > 0.9
    assert target.pixels[0, 0].mean() < 0.6 * target.pixels[target.height // 2, target.width // 2].mean()


@pytest.mark.slow
def test_an_unpaired_fit_takes_the_look_and_not_the_scene(coffee, chelsea):
    reference, truth = to_float(quantize(LOOK.apply(coffee), 8)), LOOK.apply(chelsea)
    result = filterfit.fit(look=LOOK.adjustments, source=chelsea, reference=reference, budget=150, workers=2, seed=0)
    assert result.metric == "rmse" and result.reference["vignette_evidence"] > 0.5
    assert psnr(truth, Look.from_dict(result.look).apply(chelsea)) > psnr(truth, chelsea) + 2  # measured 16.2 -> 19.2


@pytest.mark.slow
def test_an_unedited_reference_of_another_scene_leaves_the_photo_nearly_as_it_is(coffee, chelsea):
    result = filterfit.fit(look=True, source=chelsea, reference=coffee, budget=150, workers=2, seed=0)
    assert psnr(chelsea, Look.from_dict(result.look).apply(chelsea)) > 25  # measured 30.1 dB


def test_the_readmes_unpaired_command_says_what_the_reference_told(coffee, chelsea, tmp_path: Path, monkeypatch):
    """`filterfit fit photo.png --reference other-scene.png --look`, as the README prints it."""
    monkeypatch.chdir(tmp_path)
    PILImage.fromarray(data.chelsea()).save("photo.png")
    PILImage.fromarray(quantize(LOOK.apply(coffee), 8)).save("other-scene.png")
    outcome = CliRunner().invoke(
        cli, ["fit", "photo.png", "--reference", "other-scene.png", "--look", "--budget", "30"], catch_exceptions=False
    )
    assert outcome.exit_code == 0, outcome.output
    said = " ".join(outcome.output.split())  # rich wraps the line to the terminal
    assert "the reference, read as a target: black 0.03 -> (0.18, 0.16, 0.15), white 0.95 -> (1.00, 0.95, 0.85)" in said
    assert "corners at 0.44 of the centre (evidence 0.93)" in said and "left as the source has them" in said
    outcome = CliRunner().invoke(
        cli, ["fit", "photo.png", "--reference", "other-scene.png", "--look", "--budget", "8", "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert json.loads(outcome.output)["reference"]["natural"] == [NATURAL_BLACK, NATURAL_WHITE]
