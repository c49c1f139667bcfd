"""The report's error slices and pairwise plots, as SVG written straight into the page.

A slice is one parameter's panel: the error of every evaluation against that
parameter's value, those whose other parameters were all near their best in
blue (the slice through the optimum), the rest in grey, the best value as a
line and its interval as a band. The panels share one error axis, labelled at
the start of each row of :data:`COLUMNS`. A pairwise plot is two parameters'
values of each evaluation, coloured by its error, with the best as a star;
hovering a point says its values.

Numbers are laid out here rather than by a plotting library because the
page needs only points, lines and ticks, and matplotlib took most of the
time ``--out`` added to a fit to draw them (about 0.4 s for a look's twelve
slices, after 0.3-0.6 s to import it); this takes 18 ms for them (580 evaluations).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["COLUMNS", "pairwise_svg", "slices_svg", "ticks"]

COLUMNS = 4  # slice panels a row
WIDTH, HEIGHT = 230, 150  # a slice's plotting area, in pixels
LEFT, RIGHT, TOP, BOTTOM = 62, 16, 12, 42  # room around each plotting area for ticks and labels
LEGEND = 26  # the legend's row above the panels
PAIR_WIDTH, PAIR_HEIGHT, BAR = 300, 240, 60  # a pairwise plot's area, and room for its colour bar
GREY, BLUE, GREEN, RED, INK, FAINT = "#b8c1cc", "#1f6feb", "#2da44e", "#d73a49", "#1f2328", "#d0d7de"
# viridis reversed (matplotlib's viridis_r): yellow for the lowest errors, purple for the highest
PALETTE = ("#fde725", "#7ad151", "#22a884", "#2a788e", "#414487", "#440154")


@dataclass(frozen=True)
class _Scale:
    """Data values to pixels along one axis: ``low`` maps to ``start`` and ``high`` to ``end``."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        return float(self.many([value])[0])

    def many(self, values: Sequence[float]) -> list[float]:
        """Pixels of many values at once (values outside the axis are drawn at its ends)."""
        clipped = np.clip(np.asarray(values, dtype=float), self.low, self.high)
        form = np.log10 if self.log else np.asarray
        low, high = float(form(self.low)), float(form(self.high))
        share = (form(clipped) - low) / (high - low) if high > low else np.zeros_like(clipped)
        return (self.start + share * (self.end - self.start)).tolist()


def ticks(low: float, high: float, *, log: bool = False, most: int = 5) -> list[float]:
    """Round values from ``low`` to ``high`` to label an axis with: powers of ten on a log axis, 1-2-5 steps else."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    if log and low > 0:
        first, last = math.ceil(math.log10(low) - 1e-9), math.floor(math.log10(high) + 1e-9)
        powers = [10.0**k for k in range(first, last + 1)]
        if len(powers) >= 2:
            step = math.ceil(len(powers) / most)
            return powers[::step]
        return [value for value in _linear_ticks(low, high, 4) if value > 0]  # less than a decade
    return _linear_ticks(low, high, most)


def _linear_ticks(low: float, high: float, most: int) -> list[float]:
    """The finest 1-2-2.5-5 steps that put at most ``most`` ticks between ``low`` and ``high``."""
    power = 10.0 ** math.floor(math.log10((high - low) / most))
    for step in (power * m for m in (1, 2, 2.5, 5, 10, 20, 25, 50)):
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        if last - first + 1 <= most:
            return [round(k * step, 12) for k in range(first, last + 1)]
    return [low, high]


def _label(value: float) -> str:
    if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5):
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:.6g}"


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _error_range(errors: Sequence[float]) -> tuple[float, float, bool]:
    """The error axis' ends, and whether it is logarithmic (every error positive, as matplotlib chose)."""
    if not errors:
        return 0.0, 1.0, False
    low, high = min(errors), max(errors)
    if low > 0:
        return low / 1.3, high * 1.3, True
    pad = (high - low) * 0.05 or 1.0
    return low - pad, high + pad, False


def slices_svg(slices: Sequence[dict[str, Any]], *, metric: str = "error") -> str:
    """One panel per :func:`~filterfit.plots.slice_data`, :data:`COLUMNS` to a row, as one ``<svg>``."""
    if not slices:
        return ""
    low, high, log = _error_range([error for data in slices for error in data["errors"]])
    columns = min(len(slices), COLUMNS)
    rows = math.ceil(len(slices) / columns)
    width, height = columns * (LEFT + WIDTH + RIGHT), LEGEND + rows * (TOP + HEIGHT + BOTTOM)
    parts = [_svg_open(width, height, "error along each parameter"), _legend()]
    for number, data in enumerate(slices):
        left = (number % columns) * (LEFT + WIDTH + RIGHT) + LEFT
        top = LEGEND + (number // columns) * (TOP + HEIGHT + BOTTOM) + TOP
        error = _Scale(low, high, top + HEIGHT, top, log)
        parts.append(_slice(data, left, top, error, metric if number % columns == 0 else None))
    return "".join(parts) + "</svg>"


def _svg_open(width: float, height: float, label: str) -> str:
    return (
        f'<svg class="plot" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{_text(label)}" '
        'font-family="system-ui, sans-serif" font-size="11">'
    )


def _legend() -> str:
    entries = [("elsewhere", GREY, "dot"), ("others near best", BLUE, "dot"), ("best", GREEN, "line")]
    entries.append(("interval", GREEN, "band"))
    parts, x = [], float(LEFT)
    for label, colour, mark in entries:
        if mark == "dot":
            parts.append(f'<circle cx="{x + 5}" cy="12" r="3.5" fill="{colour}"/>')
        elif mark == "line":
            parts.append(f'<line x1="{x + 5}" y1="5" x2="{x + 5}" y2="19" stroke="{colour}" stroke-width="1.5"/>')
        else:
            parts.append(f'<rect x="{x}" y="6" width="10" height="12" fill="{colour}" fill-opacity="0.2"/>')
        parts.append(f'<text x="{x + 15}" y="16" fill="{INK}">{_text(label)}</text>')
        x += 22 + 6.5 * len(label)
    return "".join(parts)


def _slice(data: dict[str, Any], left: float, top: float, error: _Scale, metric: str | None) -> str:
    """One parameter's panel; ``metric`` labels the error axis (the first panel of a row only)."""
    value = _Scale(data["low"], data["high"], left, left + WIDTH, data["log"] and data["low"] > 0)
    far = [(v, e) for v, e, near in zip(data["values"], data["errors"], data["near"]) if not near]
    near = [(v, e) for v, e, n in zip(data["values"], data["errors"], data["near"]) if n]
    parts = [f"<g><title>{_text(_slice_title(data))}</title>"]
    parts.append(f'<rect x="{left}" y="{top}" width="{WIDTH}" height="{HEIGHT}" fill="white" stroke="{FAINT}"/>')
    if data["interval"]:
        start, end = sorted(value(v) for v in data["interval"])
        width = max(end - start, 1.0)
        parts.append(f'<rect x="{start:.1f}" y="{top}" width="{width:.1f}" height="{HEIGHT}" fill="{GREEN}" '
                     'fill-opacity="0.2"/>')  # fmt: skip
    parts.append(_dots(far, value, error, GREY, 3.6))
    parts.append(_dots(near, value, error, BLUE, 4.6))
    best = value(data["best"])
    parts.append(f'<line x1="{best:.1f}" y1="{top}" x2="{best:.1f}" y2="{top + HEIGHT}" stroke="{GREEN}"/>')
    parts.append(_x_axis(value, top + HEIGHT, data["name"]))
    parts.append(_y_axis(error, left, metric))
    return "".join(parts) + "</g>"


def _slice_title(data: dict[str, Any]) -> str:
    interval = data["interval"]
    shown = f", interval {_label(interval[0])} to {_label(interval[1])}" if interval else ""
    return f"{data['name']}: best {_label(data['best'])}{shown}; {len(data['values'])} evaluations"


def _dots(points: Sequence[tuple[float, float]], x: _Scale, y: _Scale, colour: str, size: float) -> str:
    """Many same-coloured dots as one path of zero-length strokes with round caps: a few bytes a dot."""
    if not points:
        return ""
    xs, ys = x.many([v for v, _ in points]), y.many([e for _, e in points])
    path = "".join(f"M{a:.1f} {b:.1f}h0" for a, b in zip(xs, ys))
    return f'<path d="{path}" stroke="{colour}" stroke-width="{size}" stroke-linecap="round" fill="none"/>'


def _x_axis(scale: _Scale, bottom: float, name: str) -> str:
    parts = []
    for value in ticks(scale.low, scale.high, log=scale.log):
        x = scale(value)
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="{INK}"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle" fill="{INK}">{_label(value)}</text>')
    middle = (scale.start + scale.end) / 2
    parts.append(f'<text x="{middle:.1f}" y="{bottom + 32}" text-anchor="middle" fill="{INK}">{_text(name)}</text>')
    return "".join(parts)


def _y_axis(scale: _Scale, left: float, label: str | None) -> str:
    """Tick marks on every panel; their numbers and the axis' label only where ``label`` is given."""
    parts = []
    for value in ticks(scale.low, scale.high, log=scale.log):
        y = scale(value)
        parts.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="{INK}"/>')
        if label is not None:
            parts.append(f'<text x="{left - 7}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{_label(value)}</text>')
    if label is not None:
        middle = (scale.start + scale.end) / 2
        parts.append(f'<text transform="translate({left - 50} {middle:.1f}) rotate(-90)" text-anchor="middle" '
                     f'fill="{INK}">{_text(label)}</text>')  # fmt: skip
    return "".join(parts)


def pairwise_svg(pairs: Sequence[dict[str, Any]], *, metric: str = "error") -> str:
    """One scatter per :func:`~filterfit.plots.pairwise_data`, coloured by error, side by side, as one ``<svg>``."""
    if not pairs:
        return ""
    panel = LEFT + PAIR_WIDTH + RIGHT + BAR
    parts = [_svg_open(panel * len(pairs), TOP + PAIR_HEIGHT + BOTTOM, "parameters against each other")]
    parts.extend(_pair(data, number * panel + LEFT, metric, number) for number, data in enumerate(pairs))
    return "".join(parts) + "</svg>"


def _pair(data: dict[str, Any], left: float, metric: str, number: int) -> str:
    (first, second), top = data["names"], TOP
    x = _Scale(*_padded(data["x"] + [data["best"][0]]), left, left + PAIR_WIDTH)
    y = _Scale(*_padded(data["y"] + [data["best"][1]]), top + PAIR_HEIGHT, top)
    errors = data["errors"] or [0.0]
    colour = _Scale(min(errors), max(errors), 0.0, 1.0, min(errors) > 0)  # the palette spans the errors exactly
    parts = [f'<rect x="{left}" y="{top}" width="{PAIR_WIDTH}" height="{PAIR_HEIGHT}" fill="white" stroke="{FAINT}"/>']
    where = zip(x.many(data["x"]), y.many(data["y"]), colour.many(data["errors"]))
    for (a, b, error), (cx, cy, share) in zip(zip(data["x"], data["y"], data["errors"]), where):
        tip = f"{first} {_label(a)}, {second} {_label(b)}: {metric} {_label(error)}"
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{_colour(share)}">'
                     f"<title>{_text(tip)}</title></circle>")  # fmt: skip
    parts.append(_star(x(data["best"][0]), y(data["best"][1]), f"best: {first} {_label(data['best'][0])}, "
                       f"{second} {_label(data['best'][1])}"))  # fmt: skip
    parts.append(_x_axis(x, top + PAIR_HEIGHT, first))
    parts.append(_y_axis(y, left, second))
    parts.append(_colour_bar(left + PAIR_WIDTH + 14, top, colour, metric, f"pairwise-errors-{number}"))
    return "".join(parts)


def _padded(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or max(abs(low) * 0.05, 0.5)
    return low - pad, high + pad


def _colour(share: float) -> str:
    """The palette's colour at ``share`` (0: the lowest error, 1: the highest), interpolated."""
    place = share * (len(PALETTE) - 1)
    index = min(int(place), len(PALETTE) - 2)
    fraction = place - index
    a, b = (tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in PALETTE[index : index + 2])
    return "#" + "".join(f"{round(p + (q - p) * fraction):02x}" for p, q in zip(a, b))


def _star(x: float, y: float, tip: str) -> str:
    points = []
    for k in range(10):
        radius, angle = (9 if k % 2 == 0 else 3.8), math.pi / 2 + k * math.pi / 5
        points.append(f"{x + radius * math.cos(angle):.1f},{y - radius * math.sin(angle):.1f}")
    return f'<polygon points="{" ".join(points)}" fill="{RED}"><title>{_text(tip)}</title></polygon>'


def _colour_bar(left: float, top: float, scale: _Scale, metric: str, key: str) -> str:
    stops = "".join(
        f'<stop offset="{k / (len(PALETTE) - 1):.2f}" stop-color="{c}"/>' for k, c in enumerate(reversed(PALETTE))
    )
    parts = [f'<defs><linearGradient id="{key}" x1="0" y1="0" x2="0" y2="1">{stops}</linearGradient></defs>']
    parts.append(f'<rect x="{left}" y="{top}" width="12" height="{PAIR_HEIGHT}" fill="url(#{key})"/>')
    axis = _Scale(scale.low, scale.high, top + PAIR_HEIGHT, top, scale.log)
    for value in ticks(scale.low, scale.high, log=scale.log, most=4):
        parts.append(f'<text x="{left + 16}" y="{axis(value) + 4:.1f}" fill="{INK}">{_label(value)}</text>')
    parts.append(f'<text x="{left}" y="{top + PAIR_HEIGHT + 16}" fill="{INK}">{_text(metric)}</text>')
    return "".join(parts)
