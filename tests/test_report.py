"""report.html: built in every --out folder and by `filterfit report DIR`, checked in real headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import make_pixels

import filterfit
from filterfit.images import save_image
from filterfit.report import write_report
from filterfit.result import FitResult

SPACE = {"gain": (0.5, 2.0), "stops": (-1.0, 1.0), "offset": (-0.2, 0.2)}


def exposure(image: np.ndarray, gain: float, stops: float, offset: float) -> np.ndarray:
    return np.clip(image * gain * 2.0**stops + offset, 0, 1)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of a quick fit whose gain and stops trade off."""
    pixels = make_pixels(32, 32)
    base = tmp_path_factory.mktemp("fitted")
    source = save_image(pixels, base / "source.png")
    target = save_image(exposure(pixels, 1.1, 0.3, 0.05), base / "target.png")
    out = base / "out"
    # budget 160: the probes, at most half of it, need about 60 to measure three intervals and a trade-off
    filterfit.fit(exposure, SPACE, source, target, strategy="random", budget=160, workers=1, seed=0, out=out)
    return out


@pytest.fixture
def folder(fitted: Path, tmp_path: Path) -> Path:
    """A copy of the fitted folder that a test may change."""
    return Path(shutil.copytree(fitted, tmp_path / "out"))


def test_every_out_folder_has_a_report(folder: Path) -> None:
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page  # nothing to fetch: readable offline
    assert page.count('src="data:image/jpeg;base64,') == 5  # source, target, fitted; target and fitted in the slider
    assert page.count('src="data:image/png;base64,') == 2  # the difference (lossless) and the convergence plot
    assert page.count('<svg class="plot"') == 2  # the slices and the pairwise plot
    for name in SPACE:
        assert f"<td>{name}</td>" in page
    result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    assert "target.png" in result["targets"][0] and "source.png" in result["sources"][0]
    assert result["versions"]["filterfit"] == filterfit.__version__
    assert "trades off with stops" in page  # the flag, and the pairwise plot it asks for
    assert "Parameters that trade off" in page


def test_user_text_is_escaped(folder: Path) -> None:
    result = FitResult.load(folder / "result.json")
    hostile = replace(result, filter="<script>alert(1)</script>", warnings=["a & b <i>"])
    page = write_report(hostile, folder).read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a &amp; b &lt;i&gt;" in page


def test_missing_images_are_said_not_broken(folder: Path) -> None:
    (folder / "diff.png").unlink()
    result = replace(FitResult.load(folder / "result.json"), sources=[None])
    page = write_report(result, folder).read_text(encoding="utf-8")
    assert "<p class=missing>source not found</p>" in page
    assert "<p class=missing>difference x20 not found</p>" in page


@pytest.mark.slow
def test_report_command_rebuilds_the_page(folder: Path) -> None:
    (folder / "report.html").unlink()
    completed = run_cli("report", str(folder))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == str(folder / "report.html")
    assert (folder / "report.html").is_file()
    assert run_cli("report", "--quiet", str(folder)).stdout == ""


def test_report_command_on_a_folder_without_a_result(tmp_path: Path) -> None:
    completed = run_cli("report", str(tmp_path))
    assert completed.returncode == 2
    assert f"error: no result.json in {tmp_path}: give a folder written by `filterfit fit ... --out DIR`" in (
        completed.stderr.replace("\n", " ")
    )
    assert "Traceback" not in completed.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "filterfit", *args], capture_output=True, text=True, timeout=120, check=False
    )


# A page that opens the report in a frame and writes what a reader would see into its own DOM,
# which `chromium --dump-dom` prints: whether each image decoded, and the parameter table's names.
INSPECTOR = """<!DOCTYPE html><html><body>
<iframe id=report src="{url}" style="width:1200px;height:3000px"></iframe><pre id=out>not loaded</pre>
<script>
document.getElementById("report").addEventListener("load", (event) => {{
  const page = event.target.contentDocument;
  const images = [...page.images].map(i => ({{alt: i.alt, complete: i.complete, width: i.naturalWidth}}));
  const names = [...page.querySelectorAll("table.params tbody td:first-child")].map(td => td.textContent);
  const plots = [...page.querySelectorAll("svg.plot")].map(
    s => ({{width: s.getBoundingClientRect().width, marks: s.querySelectorAll("circle, path, polygon").length}}));
  document.getElementById("out").textContent = "INSPECTED " + JSON.stringify({{images, names, plots}});
}});
</script></body></html>
"""

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]


@pytest.mark.slow
@pytest.mark.requires("chromium")
def test_the_report_renders_in_headless_chromium(folder: Path, tmp_path: Path) -> None:
    report = folder / "report.html"
    screenshot = tmp_path / "report.png"
    shot = subprocess.run(
        [*CHROMIUM, f"--screenshot={screenshot}", "--window-size=1200,2400", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.returncode == 0, shot.stderr
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 50_000

    inspector = tmp_path / "inspect.html"
    inspector.write_text(INSPECTOR.format(url=report.as_uri()), encoding="utf-8")
    dumped = subprocess.run(
        [
            *CHROMIUM,
            "--allow-file-access-from-files",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            inspector.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dumped.returncode == 0, dumped.stderr
    seen = json.loads(dumped.stdout.split("INSPECTED ", 1)[1].split("</pre>", 1)[0].replace("&quot;", '"'))
    assert len(seen["images"]) == 7  # 4 pictures, 2 in the slider, the convergence plot
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0, image
    assert len(seen["plots"]) == 2  # the slices and the pairwise plot, drawn as SVG
    for plot in seen["plots"]:
        assert plot["width"] > 300 and plot["marks"] >= 3, plot
    assert seen["names"] == list(SPACE)
    console = [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line and "report.html" in line]
    assert console == []  # no error, no warning, nothing logged by the page
