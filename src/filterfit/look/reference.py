"""What a photo of another scene can say about its look: a target for the source, and how sure it is.

A reference of another scene mixes two things: the look, and the scene it was
applied to. Its average colour, its saturation and its mid-tones are mostly
the scene's (an orange cat, a blue sky), so matching them copies the scene.
Two things the scene barely moves carry the look:

- **the black and white points of each channel** (the 1st and 99th
  percentiles). A well-exposed photo, before any look, spans almost the whole
  range and its deepest shadows and brightest highlights are close to neutral
  (the "white patch" of colour constancy). Where the reference's end points
  lie is then where the look sends a natural photo's: a faded black, a tinted
  white, a crushed or a lifted range. The look is read as the per-channel map
  from a natural photo's end points (``NATURAL_BLACK``, ``NATURAL_WHITE``) to
  the reference's, and that same map is applied to the source, whose own range
  stays its own.
- **a vignette**: how brightness falls from the centre to the corners. A scene
  does that too (a dark background around a lit subject), so the reference's
  fall-off is shrunk towards none by the evidence, as James and Stein shrink
  a noisy estimate: the share applied is ``1 - scene / reference`` (none below
  0), the squared log fall-offs of the source, a photo of a scene before any
  look and so a sample of what scenes do, and of the reference. A fall-off
  much stronger than a scene's is applied almost whole; one no stronger than
  a scene's not at all.

The result is an ordinary target: the source with what the reference tells,
which any filter is then fitted to pixel by pixel. What it cannot tell (the
mid-tones' colour, saturation) it leaves as the source has it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..images import Image
from .adjustments.effects import radius_map
from .distribution import radial_profile

__all__ = ["Reading", "describe_reading", "read_reference"]

PERCENTILES = (1.0, 99.0)  # a black and a white point that a few stray pixels do not move
NATURAL_BLACK, NATURAL_WHITE = 0.03, 0.95  # a well-exposed photo's, before a look (a little headroom)
MAX_PIXELS = 262_144  # pixels sampled for the statistics: enough for a 1st percentile of 2,600 pixels
RINGS = 8
DARKEST = 1e-3  # ring means below this are treated as this (the logarithm of black)


@dataclass(frozen=True)
class Reading:
    """What the reference says, as the source's target was built from it.

    Attributes
    ----------
    black, white : tuple of float
        Per colour channel: the values the look sends a natural photo's black
        and white points to (``NATURAL_BLACK`` and ``NATURAL_WHITE`` unchanged).
    corners : float
        The corners' brightness relative to the centre's in the target's
        vignette, after the pull to neutral (1: no vignette).
    vignette_evidence : float
        0 to 1: the share of the reference's fall-off towards the corners
        applied, ``1 - scene / reference`` of their squared log fall-offs
        (0: no stronger than a scene's, the source's, so none).
    """

    black: tuple[float, ...]
    white: tuple[float, ...]
    corners: float
    vignette_evidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "black": [round(v, 4) for v in self.black],
            "white": [round(v, 4) for v in self.white],
            "corners": round(self.corners, 4),
            "vignette_evidence": round(self.vignette_evidence, 3),
            "natural": [NATURAL_BLACK, NATURAL_WHITE],
        }


def describe_reading(reading: Mapping[str, Any]) -> str:
    """One line for the terminal and the report, from :meth:`Reading.to_dict`."""
    black, white = reading.get("natural", (NATURAL_BLACK, NATURAL_WHITE))
    return (
        f"black {black:g} -> {_values(reading['black'])}, white {white:g} -> {_values(reading['white'])}, "
        f"corners at {reading['corners']:.2f} of the centre (evidence {reading['vignette_evidence']:.2f}); "
        "the mid-tones' colour and saturation are the scene's as much as the look's: left as the source has them"
    )


def _values(channels: Sequence[float]) -> str:
    return "(" + ", ".join(f"{value:.2f}" for value in channels) + ")"


def read_reference(source: Image, reference: Image) -> tuple[Image, Reading]:
    """The source as the reference's look would leave it, as far as another scene can tell, and the reading.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32)[None, :, None], (64, 1, 3))
    >>> faded = 0.2 + 0.6 * ramp                     # a look that lifts black and dims white
    >>> target, reading = read_reference(Image(ramp), Image(faded))
    >>> [round(v, 2) for v in reading.black], [round(v, 2) for v in reading.white]
    ([0.2, 0.2, 0.2], [0.8, 0.8, 0.8])
    """
    colours = min(source.pixels.shape[2], 3)
    reference_colours = _colours(reference.pixels, colours)
    black, white = _end_points(reference_colours)
    levelled = _levels(source.pixels[:, :, :colours], black, white)
    gain, corners, evidence = _vignette(source.pixels[:, :, :colours], reference_colours)
    pixels = source.pixels.copy()
    pixels[:, :, :colours] = np.clip(levelled * gain[:, :, np.newaxis], 0.0, 1.0)
    target = Image(pixels, source.bit_depth, source.format, reference.path)
    reading = Reading(tuple(map(float, black)), tuple(map(float, white)), corners, evidence)
    return target, reading


def _colours(pixels: np.ndarray, colours: int) -> np.ndarray:
    """The reference's colour channels, as many as the source has (a grey reference repeated)."""
    if pixels.shape[2] >= colours:
        return pixels[:, :, :colours]
    return np.repeat(pixels[:, :, :1], colours, axis=2)


def _sample(pixels: np.ndarray) -> np.ndarray:
    """Every n-th pixel in both directions, about MAX_PIXELS of them, as rows of channels."""
    step = max(1, int(np.ceil(np.sqrt(pixels.shape[0] * pixels.shape[1] / MAX_PIXELS))))
    return pixels[::step, ::step].reshape(-1, pixels.shape[2])


def _end_points(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.percentile(_sample(pixels), PERCENTILES, axis=0)
    return low.astype(np.float32), high.astype(np.float32)


def _levels(pixels: np.ndarray, black: np.ndarray, white: np.ndarray) -> np.ndarray:
    """Each channel mapped linearly so that a natural black and white land on the reference's."""
    scale = (white - black) / (NATURAL_WHITE - NATURAL_BLACK)
    return (black + (pixels - NATURAL_BLACK) * scale).astype(np.float32)


def _log_fall_off(pixels: np.ndarray) -> np.ndarray:
    """Log of each ring's mean brightness over the centre's (the two innermost rings)."""
    profile = np.maximum(radial_profile(pixels.mean(axis=2), rings=RINGS), DARKEST)
    return np.log(profile / profile[:2].mean())


def _vignette(source: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The gain per pixel that darkens towards the corners as the evidence allows, its corner value, the evidence."""
    fall_off = np.minimum(_log_fall_off(reference), 0.0)  # a look darkens corners; a brighter edge is the scene's
    scene = _log_fall_off(source)
    signal, noise = float(np.sum(fall_off**2)), float(np.sum(scene**2))
    evidence = max(0.0, 1.0 - noise / signal) if signal > 0 else 0.0
    centres = (np.arange(RINGS) + 0.5) / RINGS
    gain = np.exp(evidence * np.interp(radius_map(*source.shape[:2]), centres, fall_off)).astype(np.float32)
    return gain, float(np.exp(evidence * fall_off[-1])), evidence
