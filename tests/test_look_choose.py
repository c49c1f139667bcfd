"""``look="auto"``: the adjustments chosen from the pairs (look/choose.py), through fit() and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import filterfit
from filterfit.images import Image, load_image, quantize, to_float
from filterfit.look import Look
from filterfit.look.choose import MIN_GAIN_DB, choose_look
from filterfit.metrics import psnr

# A flat colour screened in, then an affine colour change, and a radial overlay: what CSSgram's filters are made of.
MADE = Look(
    ["overlay_gradient", "channel_mixer"],
    {
        "overlay_outer_red": 0.25, "overlay_outer_green": 0.2, "overlay_outer_blue": 0.35, "overlay_end": 0.9,
        "red_from_red": 1.15, "red_constant": -0.02, "green_from_green": 1.1, "blue_from_red": 0.1,
        "blue_from_blue": 0.85, "blue_constant": 0.06,
    },
)  # fmt: skip


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    """A real photo that is not square (400 x 600), halved: gradients have a shape to get right."""
    from skimage import data

    return to_float(data.coffee()[::2, ::2])


def test_the_adjustments_that_made_a_look_are_chosen_and_nothing_else(coffee):
    target = to_float(quantize(MADE.apply(coffee), 8))
    look, choice = choose_look([(Image(coffee), Image(target))])
    assert set(look.adjustments) == {"channel_mixer", "overlay_gradient"}, choice.describe()
    assert [step.adjustments for step in choice.steps][0] == ("channel_mixer",)
    assert all(step.gain >= MIN_GAIN_DB for step in choice.steps)
    assert psnr(target, look.apply(coffee)) >= 40  # the thumbnail's values already render the whole photo close
    assert len(choice.left_out) == 14 and choice.stopped in ("no gain", "exact")


def test_a_pair_that_differs_in_nothing_chooses_nothing(coffee):
    look, choice = choose_look([(Image(coffee), Image(coffee.copy()))])
    assert choice.steps == () and choice.stopped == "exact"
    np.testing.assert_array_equal(look.apply(coffee), coffee)  # a neutral channel mixer: the photo as it is


def test_fit_with_look_auto_keeps_the_choice_in_the_result(coffee):
    target = to_float(quantize(MADE.apply(coffee), 8))
    result = filterfit.fit(look="auto", source=coffee, target=target, budget=200, workers=2, seed=0)
    assert result.look is not None and set(result.look["adjustments"]) == {"channel_mixer", "overlay_gradient"}
    chosen = result.look["chosen"]
    assert [step["adjustments"] for step in chosen["steps"]][0] == ["channel_mixer"]
    assert psnr(target, Look.from_dict(result.look).apply(coffee)) >= 44
    assert Look.from_dict(result.look).chosen == chosen  # what `filterfit apply` rebuilds keeps it


def test_look_auto_with_a_reference_chooses_from_what_the_reference_tells(coffee):
    reference = to_float(quantize(MADE.apply(coffee[::-1]), 8))
    result = filterfit.fit(look="auto", source=coffee, reference=reference, budget=20, workers=1, seed=0)
    assert result.reference is not None and result.look["chosen"]["steps"][0]["adjustments"] == ["channel_mixer"]


def test_look_auto_with_a_distribution_metric_fits_the_default_set(coffee):
    reference = to_float(quantize(MADE.apply(coffee[::-1]), 8))
    result = filterfit.fit(
        look="auto", source=coffee, reference=reference, metric="distribution", budget=20, workers=1, seed=0
    )
    assert tuple(result.look["adjustments"]) == Look().adjustments and "chosen" not in result.look


def test_look_auto_with_parameters_of_ones_own_is_one_clear_error(coffee):
    with pytest.raises(filterfit.FilterFitError, match="look='auto' chooses the adjustments"):
        filterfit.fit(look="auto", space=["exposure=-1:1"], source=coffee, target=coffee)


@pytest.mark.slow
def test_the_readmes_pilgram_command_chooses_and_fits_a_real_instagram_filter(tmp_path: Path):
    """As the README shows it: pilgram's clarendon on the coffee photo, then `filterfit fit --look auto`."""
    pilgram = pytest.importorskip("pilgram")
    from PIL import Image as PILImage
    from skimage import data

    photo = tmp_path / "coffee.png"
    PILImage.fromarray(data.coffee()).save(photo)
    pilgram.clarendon(PILImage.open(photo)).save(tmp_path / "coffee-clarendon.png")
    command = "filterfit fit coffee.png coffee-clarendon.png --look auto --seed 0 --out clarendon"
    completed = subprocess.run(
        [Path(sys.executable).parent / "filterfit", *command.split()[1:]], cwd=tmp_path, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "look chosen from the pairs: channel_mixer" in " ".join(completed.stdout.split())
    result = json.loads((tmp_path / "clarendon" / "result.json").read_text())
    fitted = Look.from_dict(result["look"]).apply(load_image(photo).pixels)
    assert psnr(load_image(tmp_path / "coffee-clarendon.png").pixels, fitted) >= 48  # the README's run: 52.2 dB
    assert "look chosen" in (tmp_path / "clarendon" / "report.html").read_text()
    # Applied to another photo, it is close to the filter on that photo: a look extrapolates.
    PILImage.fromarray(data.chelsea()).save(tmp_path / "chelsea.png")
    command = "filterfit apply clarendon/result.json chelsea.png --out styled"
    applied = subprocess.run(
        [Path(sys.executable).parent / "filterfit", *command.split()[1:]], cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    truth = to_float(np.asarray(pilgram.clarendon(PILImage.open(tmp_path / "chelsea.png"))))
    assert psnr(truth, load_image(tmp_path / "styled" / "chelsea.png").pixels) >= 45  # the README's run: 50.7 dB


def test_the_table_groups_a_looks_parameters_by_adjustment_and_counts_those_at_neutral(photo):
    from click.testing import CliRunner

    from filterfit.cli import cli

    # The photo as its own target: the search starts at neutral and stops there, exact.
    outcome = CliRunner().invoke(
        cli, ["fit", str(photo), str(photo), "--look", "exposure,channel_mixer", "--budget", "10", "--workers", "1"]
    )
    assert outcome.exit_code == 0, outcome.output
    lines = [line.strip("│ ").split("│")[0].strip() for line in outcome.output.splitlines() if line.startswith("│")]
    assert lines == ["channel_mixer", "12 more at neutral", "exposure", "1 more at neutral"], outcome.output


def test_the_cli_chooses_one_look_for_several_pairs(tmp_path: Path, coffee):
    from click.testing import CliRunner

    from filterfit.cli import cli
    from filterfit.images import save_image

    paths = []
    for name, pixels in (("a", coffee), ("b", coffee[::-1, ::-1].copy())):
        paths += [
            save_image(pixels, tmp_path / f"{name}.png"),
            save_image(MADE.apply(pixels), tmp_path / f"{name}-e.png"),
        ]
    outcome = CliRunner().invoke(
        cli, ["fit", "--look", "auto", "--pair", str(paths[0]), str(paths[1]), "--pair", str(paths[2]), str(paths[3]),
              "--budget", "30", "--workers", "1", "--seed", "0", "--json"],
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    look = json.loads(outcome.output)["look"]
    assert look["chosen"]["steps"][0]["adjustments"] == ["channel_mixer"] and "overlay_gradient" in look["adjustments"]
