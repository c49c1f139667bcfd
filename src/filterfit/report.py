"""report.html: one self-contained page per output folder (images and plots embedded, no network).

It shows the source, target, fitted result and amplified difference side by
side with a slider over target and result, the parameter table (best value,
uncertainty interval, range searched, flags), the convergence plot, the
error along each parameter around the optimum, a pairwise plot, and the
run's facts. Everything it needs is in the folder: result.json (with the
source and target paths), best.png and diff.png.
"""

from __future__ import annotations

import base64
import html
import io
import shutil
import string
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import FilterFitError
from .images import load_image
from .metrics import METRICS
from .plots import convergence_data, pairwise_data, slices_data
from .plots.svg import pairwise_svg, slices_svg
from .result import FitResult
from .space import parse_param
from .uncertainty import interval_text

if TYPE_CHECKING:
    import numpy as np

    from .space import Param

__all__ = ["build_report", "failure_reasons", "picture_uri", "tool_versions", "write_report"]

SHOWN_PIXELS = 1024  # the longest side of the images embedded in the page
SHOWN_REASONS = 5  # distinct failure reasons listed in the facts

_PAGE = string.Template((Path(__file__).parent / "report.html.in").read_text(encoding="utf-8"))


def tool_versions() -> dict[str, str]:
    """filterfit's version, and ImageMagick's where ``convert`` is installed."""
    from . import __version__

    versions = {"filterfit": __version__}
    if shutil.which("convert"):
        try:
            first = subprocess.run(
                ["convert", "-version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout.splitlines()
        except (OSError, subprocess.SubprocessError):
            first = []
        words = first[0].split() if first else []
        if len(words) >= 3 and words[1] == "ImageMagick":
            versions["imagemagick"] = words[2]
    return versions


def build_report(folder: str | Path) -> Path:
    """(Re)build ``report.html`` in an output folder from what the fit left there.

    Examples
    --------
    >>> build_report("result/")  # doctest: +SKIP
    PosixPath('result/report.html')
    """
    folder = Path(folder)
    if not (folder / "result.json").is_file():
        raise FilterFitError(f"no result.json in {folder}: give a folder written by `filterfit fit ... --out DIR`")
    return write_report(FitResult.load(folder / "result.json"), folder)


def write_report(
    result: FitResult,
    folder: Path,
    *,
    convergence: bytes | None = None,
    pictures: Sequence[Mapping[str, str]] | None = None,
) -> Path:
    """Write ``folder/report.html`` for ``result``; images come from the folder and the recorded paths.

    ``convergence``: the convergence plot as PNG bytes, when the caller has just drawn it (not drawn
    twice); ``pictures``: each pair's source, target, fitted result and difference x20 as data URIs
    (:func:`picture_uri`), when the caller has the pixels (not read back from the files).
    """
    params = {p.name: p for p in map(parse_param, result.space) if p.numeric}
    page = _PAGE.substitute(
        title=_text(f"filterfit: {result.filter}"),
        summary=_text(_summary(result)),
        warnings="".join(f"<p class=warning>{_text(w)}</p>" for w in result.warnings),
        images=_images(result, folder, pictures),
        table=_parameter_table(result),
        tolerance=_text(f"{result.tolerance:.3g}" if result.tolerance is not None else "a tie with the best"),
        plots=_plots(result, params, convergence),
        facts=_facts(result),
    )
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _summary(result: FitResult) -> str:
    stopped = {"exact": "stopped: close enough to exact", "interrupted": "interrupted"}.get(result.stopped, "")
    return (
        f"{result.metric} {result.best_error:.6g} after {result.evaluations} evaluations "
        f"({result.failed} failed) and {len(result.probes)} probes in {result.elapsed_s:.1f} s"
        + (f" - {stopped}" if stopped else "")
    )


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _image_uri(path: str | Path | None, *, lossless: bool = False) -> str | None:
    """The image file as a data URI for the page (see :func:`_picture_uri`); None when unreadable."""
    if path is None or not Path(path).is_file():
        return None
    try:
        pixels = load_image(path).pixels
    except FilterFitError:
        return None
    return picture_uri(pixels, lossless=lossless)


def picture_uri(pixels: np.ndarray, *, lossless: bool = False) -> str:
    """Pixels as a data URI at most SHOWN_PIXELS on their longest side.

    Photos as JPEG of quality 92, which looks the same on a page and takes a
    millisecond where PNG took 40 (the lossless files are in the folder);
    ``lossless`` (the amplified difference, whose faint dots JPEG would smear) as PNG.
    """
    from PIL import Image as PILImage

    samples = (pixels[..., :3] if pixels.shape[2] >= 3 else pixels[..., 0]) * 255 + 0.5
    picture = PILImage.fromarray(samples.clip(0, 255).astype("uint8"))
    picture.thumbnail((SHOWN_PIXELS, SHOWN_PIXELS))
    buffer = io.BytesIO()
    if lossless:
        picture.save(buffer, format="PNG", compress_level=1)
        return _png_uri(buffer.getvalue())
    picture.save(buffer, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _images(result: FitResult, folder: Path, pictures: Sequence[Mapping[str, str]] | None) -> str:
    count = max(1, len(result.targets), len(pictures or []))
    sections = []
    for number in range(count):
        if pictures is not None and number < len(pictures):
            uris: dict[str, str | None] = dict(pictures[number])
        else:
            uris = _file_uris(result, folder, number, count)
        heading = f"<h3>pair {number + 1}</h3>" if count > 1 else ""
        sections.append(heading + _gallery(uris) + _comparison(uris["target"], uris["fitted result"]))
    return "".join(sections)


def _file_uris(result: FitResult, folder: Path, number: int, count: int) -> dict[str, str | None]:
    """Pair ``number``'s pictures read from the recorded paths and the folder (``filterfit report DIR``)."""
    suffix = "" if count == 1 else f"-{number + 1}"
    return {
        "source": _image_uri(result.sources[number] if number < len(result.sources) else None),
        "target": _image_uri(result.targets[number] if number < len(result.targets) else None),
        "fitted result": _image_uri(folder / f"best{suffix}.png"),
        "difference x20": _image_uri(folder / f"diff{suffix}.png", lossless=True),
    }


def _gallery(uris: dict[str, str | None]) -> str:
    cells = []
    for label, uri in uris.items():
        shown = f'<img src="{uri}" alt="{_text(label)}">' if uri else f"<p class=missing>{_text(label)} not found</p>"
        cells.append(f"<figure>{shown}<figcaption>{_text(label)}</figcaption></figure>")
    return f"<div class=gallery>{''.join(cells)}</div>"


def _comparison(target: str | None, fitted: str | None) -> str:
    """Target under the fitted result; a slider uncovers the result from the left."""
    if not (target and fitted):
        return ""
    return (
        "<div class=compare><div class=stack>"
        f'<img src="{target}" alt="target"><img class=over src="{fitted}" alt="fitted result over the target">'
        "</div><label>target <input type=range min=0 max=100 value=50 class=slider "
        'aria-label="share of the fitted result shown"> fitted result</label></div>'
    )


def _parameter_table(result: FitResult) -> str:
    ranges = {spec.split("=", 1)[0]: spec.split("=", 1)[1] for spec in result.space}
    rows = []
    for name, value in result.best_params.items():
        shown = interval_text(result.uncertainty.get(name))
        flags = "<br>".join(_text(flag) for flag in result.flags.get(name, []))
        best = f"{value:.6g}" if isinstance(value, float) else str(value)
        cells = (_text(name), _text(best), _text(shown), _text(ranges.get(name, "")), flags)
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("parameter", "best", "interval", "searched", "flags"))
    return f"<table class=params><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _plots(result: FitResult, params: dict[str, Param], convergence: bytes | None = None) -> str:
    """The convergence plot (matplotlib's PNG), then the error slices and a pairwise plot (SVG, see plots/svg.py)."""
    png = convergence or convergence_plot(result)
    figures = [("Convergence", f'<img class=plot src="{_png_uri(png)}" alt="Convergence">')]
    evaluated = result.history + result.probes
    names = [name for name in params if name in result.best_params]
    if names:
        slices = slices_data(evaluated, result.best_params, params, result.uncertainty, names=names)
        figures.append(("Error along each parameter", slices_svg(slices, metric=result.metric)))
    pairs = _traded_pairs(result, names)
    if pairs:
        traded = [pairwise_data(evaluated, a, b, result.best_params) for a, b in pairs]
        figures.append(("Parameters that trade off", pairwise_svg(traded, metric=result.metric)))
    elif len(names) >= 2:
        pair = [pairwise_data(evaluated, names[0], names[1], result.best_params)]
        figures.append((f"{names[0]} against {names[1]}", pairwise_svg(pair, metric=result.metric)))
    return "".join(f"<h3>{_text(title)}</h3>{figure}" for title, figure in figures)


def convergence_plot(result: FitResult) -> bytes:
    """The convergence plot of ``result``'s history, as PNG bytes."""
    from .plots.png import draw_convergence  # matplotlib: imported when a plot is drawn

    direction = METRICS[result.metric].direction if result.metric in METRICS else "minimize"  # custom: minimised
    buffer = io.BytesIO()
    draw_convergence(convergence_data(result.history, direction), buffer, metric=result.metric)
    return buffer.getvalue()


def _traded_pairs(result: FitResult, names: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for first in names:
        for flag in result.flags.get(first, []):
            if flag.startswith("trades off with "):
                second = flag.removeprefix("trades off with ").split(" ")[0].rstrip(",")  # the strongest partner
                if second in names and (second, first) not in pairs:
                    pairs.append((first, second))
    return pairs


def failure_reasons(result: FitResult, *, limit: int = SHOWN_REASONS) -> list[tuple[str, int]]:
    """The reasons evaluations failed, most frequent first (then first seen), with how many failed so."""
    counts: dict[str, int] = {}
    for record in (*result.history, *result.probes):
        if record.state == "fail":
            reason = record.reason or "(no reason recorded)"
            counts[reason] = counts.get(reason, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])[:limit]


def _facts(result: FitResult) -> str:
    facts = {
        "command": result.filter,
        "searched": " ".join(result.space),
        "metric": result.metric,
        "strategy": result.strategy,
        "workers": result.workers,
        "budget": result.budget,
        "evaluations": f"{result.evaluations} ({result.failed} failed), then {len(result.probes)} probes",
        "renders": f"{result.renders} in all"
        + (f", {result.replayed} again to replay a resumed study" if result.replayed else ""),
        "elapsed": f"{result.elapsed_s:.1f} s (median evaluation {result.evaluation_s:.3g} s)",
        "seed": result.seed,
        "failures": "; ".join(f"{count} x {reason}" for reason, count in failure_reasons(result)) or "none",
        "source": ", ".join(str(s) for s in result.sources) or "-",
        "target": ", ".join(str(t) for t in result.targets) or "-",
        "filterfit": result.versions.get("filterfit", "-"),
        "ImageMagick": result.versions.get("imagemagick", "-"),
    }
    if result.look and result.look.get("chosen"):
        from .look.choose import describe_choice

        facts["look chosen"] = describe_choice(result.look["chosen"])
    if result.reference:
        from .look.reference import describe_reading

        facts["the reference, read"] = describe_reading(result.reference)
    rows = "".join(f"<tr><th>{_text(k)}</th><td>{_text(v)}</td></tr>" for k, v in facts.items())
    return f"<table class=facts>{rows}</table>"
