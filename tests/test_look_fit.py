"""Fitting looks: paired, several pairs, unpaired (another scene), previews, result.json and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import filterfit
from filterfit.cli import cli
from filterfit.errors import FilterFitError, ImageError
from filterfit.images import load_image, quantize, save_image, to_float
from filterfit.look import Look
from filterfit.look.distribution import distance, radial_profile
from filterfit.metrics import psnr
from filterfit.result import FitResult

TRUTH = {"exposure": 0.37, "contrast": 0.28, "vignette_amount": -0.46, "vignette_size": 0.61, "vignette_softness": 0.43}
ADJUSTED = ["exposure", "contrast", "vignette"]


def edited(pixels: np.ndarray, look: Look) -> np.ndarray:
    """What a photographer's 8-bit export of the look would hold."""
    return to_float(quantize(look.apply(pixels), 8))


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """The 512 x 512 photo filterfit.demo uses."""
    from skimage import data

    return to_float(data.astronaut())


@pytest.fixture
def pair(photo: Path, tmp_path: Path) -> tuple[Path, Path]:
    target = save_image(edited(load_image(photo).pixels, Look(ADJUSTED, TRUTH)), tmp_path / "edited.png")
    return photo, target


def within(found: dict, truth: dict, look: Look, fraction: float) -> dict[str, float]:
    """Each parameter's distance from the truth as a fraction of its range, where it exceeds ``fraction``."""
    space = look.space()
    misses = {p.name: abs(found[p.name] - truth[p.name]) / (p.high - p.low) for p in space}
    return {name: miss for name, miss in misses.items() if miss > fraction}


def test_a_paired_fit_recovers_a_known_look_on_a_real_photo(pair):
    source, target = pair
    result = filterfit.fit(look=ADJUSTED, source=source, target=target, budget=250, workers=1, seed=0)
    assert within(result.best_params, TRUTH, Look(ADJUSTED), 0.02) == {}
    rendered = Look.from_dict(result.look).apply(load_image(source).pixels)
    assert psnr(load_image(target).pixels, rendered) >= 40
    assert result.filter == "look exposure,contrast,vignette"
    assert result.space == [
        "exposure=-2:2",
        "contrast=-1:1",
        "vignette_amount=-1:1",
        "vignette_size=0.2:1",
        "vignette_softness=0.1:1",
    ]


def test_the_look_goes_through_result_json(pair, tmp_path):
    source, target = pair
    result = filterfit.fit(
        Look(ADJUSTED), source=source, target=target, budget=40, workers=1, seed=1, out=tmp_path / "out"
    )
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["look"] == result.look
    assert saved["look"]["params"] == {**Look(ADJUSTED).params, **result.best_params}
    loaded = FitResult.load(tmp_path / "out" / "result.json")
    look = Look.from_dict(loaded.look)
    best = load_image(tmp_path / "out" / "best.png").pixels
    assert np.abs(look.apply(load_image(source).pixels) - best).max() <= 0.5 / 255 + 1e-6


def test_a_command_fit_has_no_look(small_photo, tmp_path):
    result = filterfit.fit(
        lambda image, gain: image * gain, ["gain=0:2"], small_photo, small_photo, budget=3, workers=1
    )
    assert result.look is None


def test_several_pairs_share_one_look(photo, tmp_path):
    from skimage import data

    look = Look(["exposure", "saturation", "temperature"], {"exposure": -0.4, "saturation": 0.35, "temperature": 0.3})
    coffee = to_float(data.coffee())[100:228, 200:328]
    sources = [load_image(photo).pixels, coffee]
    pairs = [(pixels, edited(pixels, look)) for pixels in sources]
    result = filterfit.fit(look=look.adjustments, pairs=pairs, budget=200, workers=1, seed=0)
    assert within(result.best_params, look.params, look, 0.02) == {}


@pytest.mark.slow
def test_a_preview_search_is_confirmed_at_full_resolution(astronaut):
    truth = Look(["exposure", "tint", "vignette"], {"exposure": 0.3, "tint": -0.2, "vignette_amount": -0.5})
    target = edited(astronaut, truth)
    result = filterfit.fit(look=truth.adjustments, source=astronaut, target=target, budget=200, workers=1, seed=0)
    fidelities = [record.fidelity for record in result.history]
    assert fidelities[0] == "preview 1/2" and fidelities[-1] is None
    confirmed = [r for r in result.history if r.fidelity is None]
    assert 1 <= len(confirmed) <= 4 and len(result.history) <= 200
    assert result.best_error == min(r.error for r in confirmed)  # the answer is scored at full resolution
    full = filterfit.rmse(target, Look.from_dict(result.look).apply(astronaut))
    assert result.best_error == pytest.approx(full, rel=1e-5)
    assert within(result.best_params, truth.params, truth, 0.02) == {}


def test_ctrl_c_while_confirming_a_preview_keeps_the_best_confirmed(astronaut, tmp_path):
    """A real KeyboardInterrupt from the progress callback at the first full-resolution confirmation.

    The preview search spends its 8 evaluations (12 less the 4 kept to confirm); the 9th record is the
    first confirmation, and Ctrl-C there ends the fit with it as the answer instead of a traceback.
    """
    truth = Look(["exposure", "tint"], {"exposure": 0.3, "tint": -0.2})
    target = edited(astronaut, truth)

    def stop_at_confirmation(progress):
        if progress.evaluations == 9:
            raise KeyboardInterrupt

    options = {"budget": 12, "workers": 1, "seed": 0, "stop_below": 0, "probes": 0, "out": tmp_path / "out"}
    result = filterfit.fit(
        look=truth.adjustments, source=astronaut, target=target, callback=stop_at_confirmation, **options
    )
    assert result.stopped == "interrupted"
    assert [r.fidelity for r in result.history] == ["preview 1/2"] * 8 + [None]
    assert result.best_error == result.history[-1].error and not result.warnings
    assert json.loads((tmp_path / "out" / "result.json").read_text())["stopped"] == "interrupted"


def test_the_distribution_metric_compares_looks_not_layouts(photo):
    pixels = load_image(photo).pixels
    assert distance(pixels, pixels) == 0.0
    assert distance(pixels, pixels[:, ::-1]) == pytest.approx(0.0, abs=1e-4)  # same colours, same rings
    darker = distance(pixels, pixels * 0.8)
    assert darker > 1
    assert distance(pixels, pixels * 0.6) > darker
    vignetted = Look(["vignette"], {"vignette_amount": -0.8}).apply(pixels)
    profile, changed = radial_profile(pixels[:, :, 0]), radial_profile(vignetted[:, :, 0])
    assert changed[-1] < profile[-1] and changed[0] == pytest.approx(profile[0], abs=1e-3)
    metric = filterfit.metrics.get_metric("distribution")
    residuals = metric.residuals(pixels, vignetted, None)
    assert float(np.sqrt(np.sum(residuals.astype(np.float64) ** 2))) == pytest.approx(
        metric(pixels, vignetted), rel=1e-5
    )


@pytest.mark.slow
def test_an_unpaired_fit_improves_on_the_unfitted_source(astronaut):
    look = Look(
        ["exposure", "contrast", "saturation", "temperature", "vignette"],
        {"exposure": 0.3, "contrast": 0.3, "saturation": -0.4, "temperature": 0.5, "vignette_amount": -0.6},
    )
    # Two scenes with alike light: the astronaut (left half) and the shuttle and flag (right half).
    # Across unlike scenes the distribution of colours says as much about the scene as the look:
    # benchmarks/looks.py measures that case against colour transfer.
    source, other_scene = astronaut[:, :256], edited(astronaut[:, 256:], look)
    result = filterfit.fit(
        look=look.adjustments, source=source, reference=other_scene, metric="distribution", budget=150, workers=1,
        seed=0,
    )  # fmt: skip
    assert result.metric == "distribution" and result.reference is None
    fitted = Look.from_dict(result.look).apply(source)
    assert distance(other_scene, fitted) < 0.7 * distance(other_scene, source)
    truth = look.apply(source)
    assert psnr(truth, fitted) > psnr(truth, source) + 0.5  # measured: 17.8 -> 19.0 dB


def test_fit_needs_exactly_one_filter(small_photo):
    with pytest.raises(FilterFitError, match=r"give either a filter \(command or function\) or look=, not both"):
        filterfit.fit("convert {input} {output}", ["a=0:1"], small_photo, small_photo, look=True)
    with pytest.raises(FilterFitError, match=r"give a filter .* or look=True"):
        filterfit.fit(source=small_photo, target=small_photo)
    with pytest.raises(FilterFitError, match=r"give the search space"):
        filterfit.fit("convert {input} {output}", source=small_photo, target=small_photo)
    with pytest.raises(ImageError, match=r"either a target \(or pairs\) or a reference photo, not both"):
        filterfit.fit(look=True, source=small_photo, target=small_photo, reference=small_photo)


def test_a_given_space_narrows_a_looks_search(pair):
    source, target = pair
    result = filterfit.fit(look=ADJUSTED, space=["exposure=0:0.5"], source=source, target=target, budget=10, workers=1)
    assert list(result.best_params) == ["exposure"]
    assert 0 <= result.best_params["exposure"] <= 0.5


# -- the command line ------------------------------------------------------------


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_fits_a_chosen_look(pair, tmp_path):
    source, target = pair
    out = tmp_path / "out"
    outcome = run("fit", str(source), str(target), "--look", "exposure,contrast,vignette", "--budget", "30",
                  "--workers", "1", "--seed", "0", "--json", "--out", str(out))  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.output)
    assert data["look"]["adjustments"] == ["exposure", "contrast", "vignette"]
    assert (out / "best.png").exists()


def test_cli_look_alone_fits_the_default_set(pair):
    source, target = pair
    outcome = run("fit", str(source), str(target), "--look", "--budget", "8", "--workers", "1", "--json")
    assert outcome.exit_code == 0, outcome.output
    assert tuple(json.loads(outcome.output)["look"]["adjustments"]) == Look().adjustments


def test_cli_pairs_and_references(pair, photo, tmp_path):
    source, target = pair
    outcome = run("fit", "--look", "exposure", "--pair", str(source), str(target), "--pair", str(source), str(target),
                  "--budget", "6", "--workers", "1", "--json")  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    outcome = run("fit", str(source), "--reference", str(target), "--look", "exposure", "--budget", "6",
                  "--workers", "1", "--json")  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.output)
    assert data["metric"] == "rmse" and set(data["reference"]) >= {"black", "white", "vignette_evidence"}
    outcome = run("fit", str(source), "--reference", str(target), "--look", "exposure", "--metric", "distribution",
                  "--budget", "6", "--workers", "1", "--json")  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.output)
    assert data["metric"] == "distribution" and data["reference"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--look", "exposre"], r"error: unknown look adjustment 'exposre'; valid ones are blur, sharpen, multiply"),
        ([], r"error: give --command TEMPLATE with --param, or --look"),
        (["--look", "--command", "convert {input} {output}"], r"error: give either --command or --look, not both"),
        (["--command", "convert {input} {output}"], r"error: --command needs its parameters"),
        (["--look", "--reference", "x.png"], r"error: --reference replaces TARGET"),
    ],
)
def test_cli_usage_mistakes_are_one_line(pair, args, message):
    source, target = pair
    outcome = CliRunner().invoke(cli, ["fit", str(source), str(target), *args])
    assert outcome.exit_code == 2
    assert outcome.output.count("\n") == 1
    import re

    assert re.search(message, outcome.output), outcome.output


def test_cli_needs_images(pair):
    outcome = CliRunner().invoke(cli, ["fit", "--look"])
    assert outcome.exit_code == 2
    assert "give SOURCE TARGET, --pair BEFORE AFTER (repeatable) or SOURCE --reference PHOTO" in outcome.output
    outcome = CliRunner().invoke(cli, ["fit", str(pair[0]), "--look"])
    assert "give a TARGET after SOURCE, a --reference photo, or pairs with --pair BEFORE AFTER" in outcome.output
