"""Shared fixtures: tiny synthetic images in every format, and one real photo.

Everything is generated at test time; no binary fixture is committed. The
``requires("convert", ...)`` marker skips a test when a program is missing.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from filterfit.images import save_image
from filterfit.result import FitResult

HEIGHT, WIDTH = 48, 64

# The benchmark's helpers that the tests share (camera_raw.write_dng): importable by name, after everything else.
sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(*programs): skip unless every program is on PATH")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("requires"):
        missing = [program for program in marker.args if shutil.which(program) is None]
        if missing:
            pytest.skip(f"needs {', '.join(missing)} on PATH")


def saved_result(folder: Path, filter: str, best: dict, space: list[str], **fields: object) -> Path:
    """A result.json as ``filterfit fit`` writes it: the given filter, best values and space, plain bookkeeping."""
    result = FitResult(
        best_params=dict(best), best_error=0.0, metric="rmse", evaluations=1, failed=0, elapsed_s=0.1,
        strategy="auto", workers=1, budget=1, seed=0, filter=filter, space=list(space), **fields,
    )  # fmt: skip
    return result.save(folder / "result.json")


def alive(pid: int) -> bool:
    """True while the process runs (a zombie waiting for its reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def start_in_the_foreground(command: list[str], **options: object) -> subprocess.Popen:
    """Start ``command`` as a terminal's foreground job would: with Ctrl-C's default action.

    A shell without job control starts a background command (``make test &`` in a script, some CI
    runners) with SIGINT ignored, and every child inherits that; the tests that press Ctrl-C would
    then see a fit that cannot be interrupted, which no user at a terminal sees.
    """
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **options,  # type: ignore[arg-type]
    )  # fmt: skip


def make_pixels(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """RGB float32 in [0, 1]: horizontal and vertical ramps plus a fine texture.

    Every channel differs, the texture has edges at one-pixel scale (blurs
    change it), and values cover the whole range (quantisation is exercised).
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = x / (width - 1)
    green = y / (height - 1)
    texture = 0.5 + 0.25 * np.sin(x * 0.9) * np.cos(y * 1.3) + 0.2 * ((x + y) % 2 - 0.5)
    return np.clip(np.stack([red, green, texture], axis=2), 0, 1).astype(np.float32)


@pytest.fixture
def pixels() -> np.ndarray:
    """48x64 RGB gradient + texture, float32 in [0, 1]."""
    return make_pixels()


@pytest.fixture
def grey_pixels(pixels: np.ndarray) -> np.ndarray:
    return pixels.mean(axis=2, keepdims=True)


@pytest.fixture
def alpha() -> np.ndarray:
    """An alpha channel with every level from transparent to opaque."""
    return np.linspace(0, 1, HEIGHT * WIDTH, dtype=np.float32).reshape(HEIGHT, WIDTH, 1)


@pytest.fixture
def rgba_pixels(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.concatenate([pixels, alpha], axis=2)


@pytest.fixture
def image_files(
    tmp_path: Path, pixels: np.ndarray, grey_pixels: np.ndarray, rgba_pixels: np.ndarray
) -> dict[str, Path]:
    """The synthetic image in each format filterfit reads, by kind.

    PNG, TIFF and PPM go through ``save_image``; JPEG and BMP through Pillow.
    """
    from PIL import Image as PILImage

    files = {
        "png8": save_image(pixels, tmp_path / "rgb8.png"),
        "png16": save_image(pixels, tmp_path / "rgb16.png", bit_depth=16),
        "tiff8": save_image(pixels, tmp_path / "rgb8.tif"),
        "tiff16": save_image(pixels, tmp_path / "rgb16.tif", bit_depth=16),
        "ppm": save_image(pixels, tmp_path / "rgb8.ppm"),
        "grey": save_image(grey_pixels, tmp_path / "grey.png"),
        "rgba": save_image(rgba_pixels, tmp_path / "rgba.png"),
    }
    samples = np.rint(pixels * 255).astype(np.uint8)
    PILImage.fromarray(samples).save(tmp_path / "rgb.jpg", quality=95)
    PILImage.fromarray(samples).save(tmp_path / "rgb.bmp")
    files["jpeg"] = tmp_path / "rgb.jpg"
    files["bmp"] = tmp_path / "rgb.bmp"
    return files


# Rows 40-167, columns 180-307 of astronaut(): the face, with skin, hair and sharp edges.
PHOTO_CROP = (slice(40, 168), slice(180, 308))


@pytest.fixture(scope="session")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 128x128 photo: a crop of scikit-image's astronaut, as an 8-bit PNG.

    The metric tests pin numbers ImageMagick printed for this very crop.
    """
    from PIL import Image as PILImage
    from skimage import data

    path = tmp_path_factory.mktemp("photo") / "photo.png"
    PILImage.fromarray(data.astronaut()[PHOTO_CROP]).save(path)
    return path


@pytest.fixture
def small_pixels() -> np.ndarray:
    """32x32 RGB gradient + texture: fits with a Python function filter take milliseconds per evaluation."""
    return make_pixels(32, 32)


@pytest.fixture(scope="session")
def small_photo(photo: Path) -> Path:
    """A 32x32 crop of ``photo`` (the top-left corner of the face crop), for quick runs of real programs."""
    from PIL import Image as PILImage

    path = photo.parent / "small.png"
    with PILImage.open(photo) as opened:
        opened.crop((0, 0, 32, 32)).save(path)
    return path


@pytest.fixture
def gain_images(tmp_path: Path) -> tuple[Path, Path]:
    """A 16x24 source and a target 1.37 times brighter with noise (so no render is exact): for shared studies."""
    rng = np.random.default_rng(0)
    source = rng.uniform(0.1, 0.7, (16, 24, 3)).astype(np.float32)
    target = np.clip(source * 1.37 + rng.normal(0, 0.02, source.shape), 0, 1).astype(np.float32)
    return save_image(source, tmp_path / "source.png"), save_image(target, tmp_path / "target.png")
