"""``filterfit apply`` and ``filterfit.apply``: a fitted result on other photos, with real ImageMagick.

Every expected image is what ImageMagick's ``convert`` itself writes for the same photo and
parameters; the photos are made in the tests (8 and 16 bit, EXIF-rotated JPEG and PNG).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import saved_result
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps
from test_cli import assert_one_line_error, invoke

import filterfit
from filterfit.apply import ORIENTATION, _load_look, apply_to_files, look_fitted, rebuild, upright
from filterfit.errors import FilterFitError
from filterfit.filters import command as command_module
from filterfit.images import load_image, save_image
from filterfit.result import FitResult

pytestmark = pytest.mark.requires("convert")

TEMPLATE = "convert {input} -gamma {gamma} -modulate 100,{saturation} {output}"
BEST = {"gamma": 1.3, "saturation": 125.0}
SPACE = ["gamma=0.5:2", "saturation=50:150"]


def make_result(tmp_path: Path, template: str = TEMPLATE, best: dict | None = None, space: list | None = None) -> Path:
    """A result.json as ``filterfit fit`` writes it, for a known template and best parameters."""
    return saved_result(tmp_path, template, BEST if best is None else best, SPACE if space is None else space)


def convert(source: Path, output: Path, *operators: str) -> np.ndarray:
    subprocess.run(["convert", str(source), *operators, str(output)], check=True, capture_output=True)
    return load_image(output).pixels


@pytest.fixture
def photos(tmp_path: Path, photo: Path) -> dict[str, Path]:
    """The real photo crop as an 8-bit PNG and as a 16-bit PNG holding 16-bit detail."""
    folder = tmp_path / "photos"
    folder.mkdir()
    pixels = load_image(photo).pixels[:48, :64]
    fine = np.linspace(0, 1 / 255, pixels.shape[1], dtype=np.float32)[np.newaxis, :, np.newaxis]
    return {
        "8": save_image(pixels, folder / "eight.png"),
        "16": save_image(np.clip(pixels + fine, 0, 1), folder / "sixteen.png", bit_depth=16),
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_apply_writes_what_imagemagick_writes_at_each_bit_depth(tmp_path, photos, workers):
    result_json = make_result(tmp_path)
    out = tmp_path / "out"
    run = invoke("apply", result_json, photos["8"], photos["16"], "--out", out, "--workers", workers)
    assert run.exit_code == 0, run.output
    assert "applied to 2 of 2 photos" in run.stdout
    for depth, source in photos.items():
        written = load_image(out / source.name)
        assert written.bit_depth == int(depth)
        expected = convert(source, tmp_path / f"expected{depth}.png", "-gamma", "1.3", "-modulate", "100,125")
        assert np.array_equal(written.pixels, expected)


@pytest.mark.slow
def test_a_fit_from_the_command_line_applies_to_another_photo(tmp_path, photos, small_photo):
    """The whole chain: fit writes result.json, apply reads it and renders like the template does."""
    target = tmp_path / "target.png"
    convert(small_photo, target, "-gamma", "1.4")
    fit_run = invoke(
        "fit", small_photo, target, "--command", "convert {input} -gamma {g} {output}", "--param", "g=0.5:2",
        "--workers", 1, "--seed", 0, "--budget", 40, "--out", tmp_path / "fit", "--quiet",
    )  # fmt: skip
    assert fit_run.exit_code == 0, fit_run.output
    fitted = FitResult.load(tmp_path / "fit" / "result.json")
    assert fitted.best_params["g"] == pytest.approx(1.4, abs=0.02)
    run = invoke("apply", tmp_path / "fit" / "result.json", photos["8"], "--out", tmp_path / "out")
    assert run.exit_code == 0, run.output
    expected = convert(photos["8"], tmp_path / "expected.png", "-gamma", str(fitted.best_params["g"]))
    assert np.array_equal(load_image(tmp_path / "out" / "eight.png").pixels, expected)


def test_python_api_renders_like_the_command_line(tmp_path, photos):
    result = FitResult.load(make_result(tmp_path))
    rendered = filterfit.apply(result, photos["8"])
    expected = convert(photos["8"], tmp_path / "expected.png", "-gamma", "1.3", "-modulate", "100,125")
    assert np.array_equal(rendered, expected)
    assert np.array_equal(filterfit.apply(tmp_path / "result.json", load_image(photos["8"])), rendered)


def _rotated_photo(photo: Path, path: Path, orientation: int) -> np.ndarray:
    """Save a non-square crop with an EXIF orientation; return the pixels a viewer shows (upright)."""
    with PILImage.open(photo) as opened:
        stored = opened.convert("RGB").crop((0, 0, 64, 40))
    exif = PILImage.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "filterfit test camera"  # Make: other EXIF must survive
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stored.save(path, exif=exif.tobytes(), icc_profile=icc, **({"quality": 95} if path.suffix == ".jpg" else {}))
    with PILImage.open(path) as reopened:
        return np.asarray(ImageOps.exif_transpose(reopened))


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_exif_orientation_is_kept(tmp_path, photo, suffix):
    source = tmp_path / "photos" / f"rotated{suffix}"
    source.parent.mkdir()
    shown = _rotated_photo(photo, source, 6)  # "rotate 90 degrees clockwise to view"
    result_json = make_result(tmp_path, "convert {input} -gamma {gamma} {output}", {"gamma": 1.2}, ["gamma=0.5:2"])
    run = invoke("apply", result_json, source, "--out", tmp_path / "out")
    assert run.exit_code == 0, run.output
    with PILImage.open(tmp_path / "out" / source.name) as written:
        exif, icc = written.getexif(), written.info.get("icc_profile")
        displayed = np.asarray(ImageOps.exif_transpose(written))
    assert displayed.shape == shown.shape == (64, 40, 3)  # shows upright, as its input does
    if suffix == ".jpg":
        assert exif[ORIENTATION] == 1 and exif[0x010F] == "filterfit test camera"
        assert icc is not None and ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
    shown_png = save_image(shown.astype(np.float32) / 255, tmp_path / "shown.png")
    expected = np.rint(convert(shown_png, tmp_path / "e.png", "-gamma", "1.2") * 255)
    difference = np.abs(displayed.astype(int) - expected.astype(int))
    if suffix == ".jpg":  # the output JPEG is compressed again; a wrong turn would differ by tens of levels
        assert difference.mean() < 2
    else:
        assert difference.max() == 0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_turns_like_pillow(orientation, pixels):
    samples = np.rint(pixels * 255).astype(np.uint8)
    picture = PILImage.fromarray(samples)
    exif = picture.getexif()
    exif[ORIENTATION] = orientation
    picture.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(picture))
    assert np.array_equal(upright(samples, orientation), expected)


def test_output_in_the_photos_folder_is_refused(tmp_path, photos):
    before = photos["8"].read_bytes()
    run = invoke("apply", make_result(tmp_path), photos["8"], "--out", photos["8"].parent)
    assert_one_line_error(run, 2, "is the folder of")
    assert "choose another folder" in run.stderr
    assert photos["8"].read_bytes() == before


def test_two_photos_of_one_name_are_refused(tmp_path, photos):
    other = tmp_path / "other"
    other.mkdir()
    twin = save_image(np.zeros((4, 4, 3), np.float32), other / photos["8"].name)
    run = invoke("apply", make_result(tmp_path), photos["8"], twin, "--out", tmp_path / "out")
    assert_one_line_error(run, 2, f"two photos are named {twin.name}")
    assert not (tmp_path / "out").exists()


def test_a_bad_photo_does_not_stop_the_others(tmp_path, photos):
    broken = tmp_path / "photos" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    missing = tmp_path / "photos" / "missing.png"
    run = invoke("apply", make_result(tmp_path), broken, photos["8"], missing, "--out", tmp_path / "out")
    assert run.exit_code == 1, run.output
    assert "applied to 1 of 3 photos" in run.stdout
    lines = run.stderr.splitlines()
    assert len(lines) == 2 and "Traceback" not in run.output
    assert lines[0].startswith(f"error: {broken}: ") and "not a readable PNG" in lines[0]
    assert lines[1].startswith(f"error: {missing}: ") and "image not found" in lines[1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["eight.png"]


def test_a_failing_program_is_a_failed_photo(tmp_path, photos):
    result_json = make_result(tmp_path, "convert {input} -gamma {gamma} {output}", {"gamma": "bad"}, ["gamma=a,bad"])
    run = invoke("apply", result_json, photos["8"], "--out", tmp_path / "out")
    assert run.exit_code == 1
    assert run.stderr.startswith(f"error: {photos['8']}: exit code 1")


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "result file not found"),
        ("{not json", "is not a filterfit result.json"),
        ("[1, 2]", "is not a filterfit result.json"),
        ('{"best_params": {}}', "is not a filterfit result.json"),
    ],
)
def test_a_missing_or_corrupt_result_is_a_usage_error(tmp_path, photos, content, message):
    path = tmp_path / "result.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert_one_line_error(invoke("apply", path, photos["8"], "--out", tmp_path / "out"), 2, message)


def test_a_python_function_result_needs_the_function_again(tmp_path, photos):
    result_json = make_result(tmp_path, "python function brighten", {"gain": 1.5}, ["gain=0.5:2"])
    run = invoke("apply", result_json, photos["8"], "--out", tmp_path / "out")
    assert_one_line_error(run, 2, "(python function brighten) is not a command template")
    assert "filter=your_function" in run.stderr

    def brighten(pixels, gain):
        return pixels * gain

    rendered = filterfit.apply(result_json, photos["8"], filter=brighten)
    assert np.allclose(rendered, np.clip(load_image(photos["8"]).pixels * 1.5, 0, 1))


def test_a_missing_program_is_named(tmp_path, photos):
    result_json = make_result(tmp_path, "no-such-program-xyz {input} {gamma} {output}", {"gamma": 1}, ["gamma=0:2"])
    run = invoke("apply", result_json, photos["8"], "--out", tmp_path / "out")
    assert_one_line_error(run, 2, "command 'no-such-program-xyz' is not installed")


def test_apply_to_files_reports_each_photo(tmp_path, photos):
    done = apply_to_files(make_result(tmp_path), [photos["16"], photos["8"]], tmp_path / "out", workers=2)
    assert [item.source for item in done] == [photos["16"], photos["8"]]  # the order given
    assert [item.output for item in done] == [tmp_path / "out" / "sixteen.png", tmp_path / "out" / "eight.png"]
    assert all(item.error is None and item.seconds > 0 for item in done)
    with pytest.raises(FilterFitError, match="workers must be an integer >= 1"):
        apply_to_files(tmp_path / "result.json", [photos["8"]], tmp_path / "out", workers=0)


class TinyLook:
    """A two-adjustment look with the look pipeline's interface: gain (per pixel) and a left-to-right fade."""

    adjustments = ("gain", "fade")

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        assert pixels.dtype == np.float32 and pixels.shape[2] == 3
        ramp = np.linspace(1, 0.5, pixels.shape[1], dtype=np.float32)[np.newaxis, :, np.newaxis]
        return np.clip(pixels * 1.2, 0, 1) * ramp

    def colour_part(self) -> TinyLook:
        part = TinyLook()
        part.apply = lambda pixels: np.clip(pixels * 1.2, 0, 1)  # type: ignore[method-assign]
        return part

    def spatial_adjustments(self) -> tuple[str, ...]:
        return ("fade",)


def test_a_look_renders_grey_and_alpha_photos(grey_pixels, alpha):
    fitted = look_fitted(TinyLook())
    assert fitted.description == "look gain, fade" and fitted.spatial == ("fade",)
    grey_alpha = filterfit.Image(np.concatenate([grey_pixels, alpha], axis=2))
    rendered = fitted.render(grey_alpha)
    assert rendered.shape == grey_alpha.pixels.shape
    assert np.array_equal(rendered[:, :, 1], alpha[:, :, 0])  # alpha kept as it was
    assert np.allclose(fitted.colour(grey_alpha)[:, :, 0], np.clip(grey_pixels[:, :, 0] * 1.2, 0, 1), atol=1e-6)


def test_a_look_without_the_look_pipeline_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "filterfit.look", None)  # what an older filterfit sees
    with pytest.raises(FilterFitError, match="result.json holds a look, but this filterfit has no look pipeline"):
        _load_look({"adjustments": ["exposure"], "params": {}})


def test_rebuild_names_an_incomplete_result(tmp_path):
    result = FitResult.load(make_result(tmp_path, best={"gamma": 1.0}))
    with pytest.raises(FilterFitError, match="no best value for parameter saturation"):
        rebuild(result)


def test_programs_that_take_file_names_run_in_parallel(tmp_path, photo):
    """``PNG24:{output}`` is not a bare placeholder, so convert gets files; two threads must not share one."""
    folder = tmp_path / "photos"
    folder.mkdir()
    pixels = load_image(photo).pixels
    sources = [save_image(pixels[: 40 + n, : 50 + n], folder / f"p{n}.png") for n in range(6)]
    template = "convert {input} -gamma {gamma} PNG24:{output}"
    scratch = command_module._scratch_folder()
    before = set(scratch.glob("in-*"))
    done = apply_to_files(
        make_result(tmp_path, template, {"gamma": 1.2}, ["gamma=0.5:2"]), sources, tmp_path / "out", workers=2
    )
    assert [item.error for item in done] == [None] * 6
    for source in sources:
        expected = convert(source, tmp_path / "expected.png", "-gamma", "1.2")
        assert np.array_equal(load_image(tmp_path / "out" / source.name).pixels, expected)
    assert set(scratch.glob("in-*")) <= before  # each photo's copy in RAM went with it
