"""``filterfit export``: .cube and Hald CLUT files checked by other readers and by real ImageMagick.

The .cube file is read back by a parser written here from the format's description and by
colour-science; the Hald CLUT is applied by ImageMagick's own ``convert photo hald -hald-clut out``.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_apply import TEMPLATE, TinyLook, make_result
from test_cli import assert_one_line_error, invoke

from filterfit.apply import look_fitted, rebuild
from filterfit.errors import FilterFitError
from filterfit.export import (
    Lut,
    apply_lut,
    command_line,
    identity_table,
    lattice_image,
    measure_lut,
    spatial_parts,
    write_cube,
    write_hald,
)
from filterfit.filters import CommandFilter
from filterfit.images import load_image, save_image
from filterfit.metrics import psnr
from filterfit.result import FitResult

pytestmark = pytest.mark.requires("convert")

COLOUR = ["-gamma", "1.3", "-modulate", "100,125"]  # what make_result's best parameters render


def read_cube(path: Path) -> tuple[dict[str, str], np.ndarray]:
    """Parse a .cube file as the Adobe spec describes it: keywords, then rows with red varying fastest."""
    keywords: dict[str, str] = {}
    rows = []
    for line in path.read_text(encoding="ascii").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line[0].isalpha():
            key, _, value = line.partition(" ")
            keywords[key] = value
        else:
            rows.append([float(value) for value in line.split()])
    size = int(keywords["LUT_3D_SIZE"])
    table = np.array(rows, dtype=np.float32)
    assert table.shape == (size**3, 3)
    return keywords, table


def convert_pixels(source: Path, tmp_path: Path, *operators: str) -> np.ndarray:
    output = tmp_path / f"convert-{len(list(tmp_path.iterdir()))}.png"
    subprocess.run(["convert", str(source), *operators, str(output)], check=True, capture_output=True)
    return load_image(output).pixels


def test_cube_holds_the_filter_at_every_lattice_point(tmp_path, photo):
    run = invoke("export", make_result(tmp_path), "--cube", tmp_path / "look.cube", "--check", photo)
    assert run.exit_code == 0, run.output
    assert f"wrote {tmp_path / 'look.cube'} (33^3 .cube 3D LUT): " in run.stdout
    assert f"dB PSNR against the filter's own render of {photo}" in run.stdout
    assert "warning" not in run.output
    keywords, rows = read_cube(tmp_path / "look.cube")
    assert keywords["TITLE"] == f'"{TEMPLATE}"'
    assert keywords["LUT_3D_SIZE"] == "33"
    lattice = identity_table(33).reshape(-1, 3)
    assert np.array_equal(lattice[1], [1 / 32, 0, 0]) and np.array_equal(lattice[33], [0, 1 / 32, 0])  # red fastest
    # the same lattice, in the same order, rendered by ImageMagick as a 1089 x 33 image
    strip = lattice.reshape(33, 33 * 33, 3)
    expected = convert_pixels(_save16(strip, tmp_path / "lattice.png"), tmp_path, *COLOUR).reshape(-1, 3)
    assert np.abs(rows - expected).max() <= 0.5e-6 + 1 / 65535  # six decimals of 16-bit renders


def _save16(pixels: np.ndarray, path: Path) -> Path:
    return save_image(pixels, path, bit_depth=16)


def test_cube_reads_back_in_colour_science(tmp_path):
    import colour  # colour-science, in the test extra: a reader that is not ours

    result = FitResult.load(make_result(tmp_path))
    lut = measure_lut(rebuild(result))
    write_cube(lut, tmp_path / "look.cube", title="filterfit test")
    read = colour.read_LUT(str(tmp_path / "look.cube"))
    assert read.name == "filterfit test" and read.table.shape == (33, 33, 33, 3)
    assert np.allclose(read.table, lut.table.transpose(2, 1, 0, 3), atol=1e-6)  # colour indexes [red, green, blue]
    samples = np.random.default_rng(0).random((500, 3)).astype(np.float32)
    assert np.allclose(read.apply(samples), apply_lut(lut.table, samples), atol=1e-5)  # both interpolate trilinearly


def test_hald_clut_applied_by_imagemagick_matches_the_filter(tmp_path, photo):
    hald = tmp_path / "hald.png"
    run = invoke("export", make_result(tmp_path), "--hald", hald, "--check", photo)
    assert run.exit_code == 0, run.output
    stated = float(run.stdout.split("(level-8 Hald CLUT): ")[1].split(" dB")[0])
    assert load_image(hald).pixels.shape == (512, 512, 3) and load_image(hald).bit_depth == 16
    out = tmp_path / "out.png"
    subprocess.run(["convert", str(photo), str(hald), "-hald-clut", str(out)], check=True, capture_output=True)
    through_hald = load_image(out).pixels[:, :, :3]  # ImageMagick adds an opaque alpha channel
    fitted_render = convert_pixels(photo, tmp_path, *COLOUR)
    assert psnr(fitted_render, through_hald) >= 50  # measured 62.6 dB on this 128x128 photo
    assert stated >= 50


def test_identity_hald_is_imagemagicks_own(tmp_path):
    ours = load_image(write_hald(Lut(identity_table(64)), tmp_path / "identity.png")).pixels
    subprocess.run(["convert", "hald:8", "-depth", "16", str(tmp_path / "im.png")], check=True, capture_output=True)
    assert np.abs(ours - load_image(tmp_path / "im.png").pixels).max() <= 1 / 65535


def test_trilinear_interpolation():
    samples = np.random.default_rng(1).random((1000, 3)).astype(np.float32)
    assert np.abs(apply_lut(identity_table(17), samples) - samples).max() < 1e-6
    squared = identity_table(33) ** 2
    assert np.abs(apply_lut(squared, samples) - samples**2).max() <= 1 / (4 * 32**2) + 1e-6  # h^2/4 for x^2


def test_lattice_image_neighbours_differ_by_one_step():
    image, (blue, green, red) = lattice_image(5)
    steps = np.rint(image * 4).astype(int)
    assert np.abs(np.diff(steps, axis=0)).sum(axis=2).max() == 1
    assert np.abs(np.diff(steps, axis=1)).sum(axis=2).max() == 1
    assert sorted(map(tuple, steps.reshape(-1, 3).tolist())) == sorted(
        (r, g, b) for r in range(5) for g in range(5) for b in range(5)
    )
    assert np.array_equal(steps[..., 0], red) and np.array_equal(steps[..., 2], blue)


def _render(template: str):
    command = CommandFilter(template)
    return lambda image: command.prepare([image], image, single_thread=False).render(image, {})


@pytest.mark.parametrize(
    "operators, kind",
    [
        ("-sigmoidal-contrast 3x50% -modulate 100,120", None),
        ("-blur 0x2", "blur"),
        ("-vignette 0x10", "vignette"),
        ("+noise Gaussian", "noise"),
    ],
)
def test_probes_tell_per_pixel_filters_from_spatial_ones(operators, kind):
    parts = spatial_parts(_render(f"convert {{input}} {operators} {{output}}"))
    assert (parts == ()) if kind is None else (len(parts) == 1 and kind in parts[0])


@pytest.mark.parametrize(
    "operator, named, floor_db",
    [
        ("-blur 0x{amount}", "such as a blur", 45),  # measured 51.6 dB
        ("+noise Gaussian -attenuate {amount}", "noise or grain", 30),  # measured 35.7 dB: a median of 36 noisy pixels
        ("-vignette 0x{amount}", "such as a vignette", 60),  # measured 103.7 dB: the centre is untouched
    ],
)
def test_a_spatial_filter_exports_its_colour_part_with_a_warning(tmp_path, photo, operator, named, floor_db):
    template = f"convert {{input}} {operator} -gamma {{gamma}} {{output}}"
    result_json = make_result(tmp_path, template, {"amount": 3, "gamma": 1.3}, ["amount=0:10", "gamma=0.5:2"])
    run = invoke("export", result_json, "--cube", tmp_path / "lut.cube", "--check", photo)
    assert run.exit_code == 0, run.output
    assert run.stderr.startswith("warning: the filter is not per-pixel, so the LUT holds only its global colour part")
    assert named in run.stderr
    _, rows = read_cube(tmp_path / "lut.cube")
    gamma_only = identity_table(33).reshape(-1, 3) ** (1 / 1.3)  # ImageMagick's -gamma 1.3
    assert psnr(gamma_only, rows) >= floor_db


def test_command_reproduces_the_result(tmp_path, photo):
    run = invoke("export", make_result(tmp_path), "--command")
    assert run.exit_code == 0, run.output
    assert run.stdout == "convert input.png -gamma 1.3 -modulate 100,125 output.png\n"
    assert run.stderr == ""  # a template is the filter itself: no closeness to state
    argv = shlex.split(run.stdout.replace("input.png", str(photo)).replace("output.png", str(tmp_path / "c.png")))
    subprocess.run(argv, check=True, capture_output=True)
    assert np.array_equal(load_image(tmp_path / "c.png").pixels, convert_pixels(photo, tmp_path, *COLOUR))
    quoted = command_line(FitResult.load(make_result(tmp_path)), input="my photo.png", output="out.png")
    assert quoted.startswith("convert 'my photo.png' -gamma")


def test_command_and_luts_together_keep_stdout_for_the_command(tmp_path, photo):
    run = invoke("export", make_result(tmp_path), "--command", "--cube", tmp_path / "a.cube", "--check", photo)
    assert run.exit_code == 0, run.output
    assert run.stdout.count("\n") == 1 and run.stdout.startswith("convert input.png")
    assert "33^3 .cube 3D LUT" in run.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "say what to export: --cube FILE, --hald FILE and/or --command"),
        (["--cube", "{tmp}/missing-folder/a.cube"], "cannot write"),
        (["--cube", "{tmp}/a.cube", "--check", "{tmp}/nope.png"], "image not found"),
    ],
)
def test_export_mistakes_are_one_line(tmp_path, args, message):
    args = [arg.format(tmp=tmp_path) for arg in args]
    assert_one_line_error(invoke("export", make_result(tmp_path), *args), 2, message)


def test_export_of_a_missing_or_function_result(tmp_path):
    assert_one_line_error(invoke("export", tmp_path / "none.json", "--cube", tmp_path / "a.cube"), 2, "not found")
    function = make_result(tmp_path, "python function brighten", {"gain": 2}, ["gain=0:3"])
    assert_one_line_error(invoke("export", function, "--command"), 2, "is not a command template")


def test_a_filter_that_changes_the_size_cannot_be_a_lut(tmp_path):
    result = FitResult.load(make_result(tmp_path, "convert {input} -resize {p}% {output}", {"p": 50}, ["p=10:90"]))
    with pytest.raises(FilterFitError, match="a LUT needs a filter that keeps the size"):
        measure_lut(rebuild(result), 9)


def test_a_look_exports_its_colour_part_and_names_the_rest(tmp_path):
    lut = measure_lut(look_fitted(TinyLook()), 9)
    assert lut.spatial == ("fade",)
    assert np.allclose(lut.table, np.clip(identity_table(9) * 1.2, 0, 1), atol=1e-6)
