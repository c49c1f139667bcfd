"""Image similarity metrics as plain functions on float32 arrays in [0, 1].

Each metric is ``metric(reference, candidate, *, mask=None) -> float``; a mask
(H x W booleans, True where pixels count) restricts it to part of the image.
:class:`Metric` bundles a function with its direction and, where it has one,
a residual function: per-sample values whose sum of squares orders candidates
the way the metric does, so least-squares strategies can use them.

``rmse`` equals the normalised value ImageMagick's ``compare -metric rmse``
prints in parentheses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import MetricError
from .look.distribution import distance, distance_residuals

__all__ = ["METRICS", "Metric", "de2000", "distance", "get_metric", "mae", "make_mask", "psnr", "rmse", "ssim"]

PSNR_CAP = 200.0  # dB for identical images (skimage says inf; JSON has no inf)


def _pair(reference: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference = np.asarray(reference, dtype=np.float32)
    candidate = np.asarray(candidate, dtype=np.float32)
    if reference.shape != candidate.shape:
        raise MetricError(f"images must have the same shape, but got {reference.shape} and {candidate.shape}")
    return reference, candidate


def _masked(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The values where the mask is True (all of them without a mask), flattened."""
    return values.ravel() if mask is None else values[mask].ravel()


def rmse(reference: np.ndarray, candidate: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Root mean squared error over all samples (pixels x channels).

    Examples
    --------
    >>> import numpy as np
    >>> rmse(np.zeros((2, 2, 3)), np.full((2, 2, 3), 0.5))
    0.5
    """
    reference, candidate = _pair(reference, candidate)
    difference = _masked(candidate - reference, mask).astype(np.float64)
    # Squared in place: d * d was another fresh array of 8 bytes a sample, and faulting in its pages took
    # 4.5 ms of a 512x512 RGB image's 5. Not np.dot either: OpenBLAS spreads that over threads that then
    # spin, doubling the CPU time of everything after it.
    np.square(difference, out=difference)
    return math.sqrt(float(difference.sum()) / difference.size)


def mae(reference: np.ndarray, candidate: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Mean absolute error over all samples."""
    reference, candidate = _pair(reference, candidate)
    return float(np.mean(np.abs(_masked(candidate - reference, mask)), dtype=np.float64))


def psnr(reference: np.ndarray, candidate: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (data range 1); identical images give 200 dB."""
    error = rmse(reference, candidate, mask=mask)
    return PSNR_CAP if error == 0 else min(PSNR_CAP, float(-20 * np.log10(error)))


def _ssim_map(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    from skimage.metrics import structural_similarity

    reference, candidate = _pair(reference, candidate)
    _, full = structural_similarity(reference, candidate, data_range=1.0, channel_axis=2, full=True)
    return np.asarray(full.mean(axis=2))


def ssim(reference: np.ndarray, candidate: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Mean structural similarity (scikit-image, 7x7 window), 1 for identical images.

    Like scikit-image's ``structural_similarity``, which it equals without a
    mask, the mean leaves out the 3-pixel border where the window is padded.
    """
    values = _ssim_map(reference, candidate)
    return float(np.mean(values[make_mask(values.shape, border=3, mask=mask)], dtype=np.float64))


def _delta_e_map(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    from skimage.color import deltaE_ciede2000, rgb2lab

    reference, candidate = _pair(reference, candidate)
    return np.asarray(deltaE_ciede2000(rgb2lab(_rgb(reference)), rgb2lab(_rgb(candidate))))


def _rgb(pixels: np.ndarray) -> np.ndarray:
    colour = pixels[:, :, :-1] if pixels.shape[2] in (2, 4) else pixels  # alpha is not a colour
    return np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour


def de2000(reference: np.ndarray, candidate: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Mean CIEDE2000 colour difference (sRGB, D65); about 1 is just noticeable."""
    return float(np.mean(_masked(_delta_e_map(reference, candidate), mask), dtype=np.float64))


@dataclass(frozen=True)
class Metric:
    """A metric with its direction and, optionally, residuals for least squares.

    ``residuals(reference, candidate, mask)`` returns a flat array whose sum of
    squares orders candidates as the metric does.
    """

    name: str
    function: Callable[..., float]
    direction: str = "minimize"
    residuals: Callable[..., np.ndarray] | None = None
    ideal: float | None = None  # the value of a perfect match
    # Close enough to stop a fit: for rmse, about 5 samples of a 512x512 RGB image one 8-bit level off.
    close_enough: float | None = None

    def __call__(self, reference: np.ndarray, candidate: np.ndarray, *, mask: np.ndarray | None = None) -> float:
        return float(self.function(reference, candidate, mask=mask))

    def loss(self, value: float) -> float:
        """The value as something to minimise."""
        return value if self.direction == "minimize" else -value

    @property
    def ideal_loss(self) -> float:
        """The loss of a perfect match (minus infinity when there is none)."""
        return -math.inf if self.ideal is None else self.loss(self.ideal)

    @property
    def stop_loss(self) -> float:
        """The loss at which a fit may stop (minus infinity when there is none)."""
        value = self.close_enough if self.close_enough is not None else self.ideal
        return -math.inf if value is None else self.loss(value)


def _difference_residuals(reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return _masked(candidate - reference, mask)


def _root(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return np.sqrt(np.maximum(_masked(values, mask), 0)).astype(np.float32)


def _mae_residuals(reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return _root(np.abs(candidate - reference), mask)


def _ssim_residuals(reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return _root(1 - _ssim_map(reference, candidate), mask)


def _de2000_residuals(reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return _root(_delta_e_map(reference, candidate), mask)


# Module-level functions, not lambdas: metrics travel to worker processes by pickle.
METRICS: dict[str, Metric] = {
    "rmse": Metric("rmse", rmse, residuals=_difference_residuals, ideal=0.0, close_enough=1e-5),
    "mae": Metric("mae", mae, residuals=_mae_residuals, ideal=0.0, close_enough=1e-7),
    "psnr": Metric(
        "psnr", psnr, direction="maximize", residuals=_difference_residuals, ideal=PSNR_CAP, close_enough=100.0
    ),
    "ssim": Metric("ssim", ssim, direction="maximize", residuals=_ssim_residuals, ideal=1.0, close_enough=1 - 1e-7),
    "de2000": Metric("de2000", de2000, residuals=_de2000_residuals, ideal=0.0, close_enough=1e-4),
    # For a reference photo of another scene (look/distribution.py): colour distributions and brightness profile.
    "distribution": Metric("distribution", distance, residuals=distance_residuals, ideal=0.0, close_enough=1e-3),
}


def get_metric(metric: str | Metric | Callable[..., Any]) -> Metric:
    """Normalise a metric given by name, as a :class:`Metric`, or as a function.

    A plain function ``f(reference, candidate) -> float`` is minimised; it may
    accept a ``mask`` keyword.
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        try:
            return METRICS[metric.lower()]
        except KeyError:
            raise MetricError(f"unknown metric {metric!r}; valid ones are {', '.join(METRICS)}") from None
    if callable(metric):
        return Metric(getattr(metric, "__name__", "custom"), _accepting_mask(metric))
    raise MetricError(f"metric must be a name ({', '.join(METRICS)}) or a function, but got {metric!r}")


def _accepting_mask(function: Callable[..., Any]) -> Callable[..., float]:
    import inspect

    try:
        takes_mask = "mask" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        takes_mask = False
    if takes_mask:
        return function

    def without_mask(reference: np.ndarray, candidate: np.ndarray, *, mask: np.ndarray | None = None) -> float:
        if mask is not None:
            reference, candidate = reference[mask], candidate[mask]
        return float(function(reference, candidate))

    without_mask.__name__ = getattr(function, "__name__", "custom")
    return without_mask


def make_mask(shape: tuple[int, ...], *, border: int = 0, mask: np.ndarray | None = None) -> np.ndarray | None:
    """Combine an optional mask with a border of ``border`` pixels to ignore."""
    if border < 0:
        raise MetricError(f"border must be >= 0 pixels, but got {border}")
    height, width = shape[:2]
    if 2 * border >= min(height, width):
        raise MetricError(f"a border of {border} pixels leaves nothing of a {width}x{height} image to compare")
    result = None if mask is None else np.asarray(mask, dtype=bool)
    if result is not None and result.shape != (height, width):
        raise MetricError(
            f"the mask must be {width}x{height} like the images, but is {result.shape[1]}x{result.shape[0]}"
        )
    if border:
        inner = np.zeros((height, width), dtype=bool)
        inner[border : height - border, border : width - border] = True
        result = inner if result is None else result & inner
    return result
