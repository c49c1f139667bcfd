"""A camera RAW made from a photo, for the benchmark's and the tests' RAW cases (pidng writes the DNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["write_dng"]


def write_dng(path: Path, rgb: np.ndarray) -> Path:
    """A camera RAW made from a photo: its linear light sampled on an RGGB Bayer mosaic, 12 bits, as a DNG (pidng)."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, Orientation, PhotometricInterpretation

    srgb = rgb.astype(np.float64) / 255
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    mosaic = np.empty(rgb.shape[:2], dtype=np.uint16)
    for row, column, channel in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 2)):
        mosaic[row::2, column::2] = np.round(linear[row::2, column::2, channel] * 4095)
    xyz_to_srgb = [[32404542, -15371385, -4985314], [-9692660, 18760108, 415560], [556434, -2040259, 10572252]]
    tags = DNGTags()
    for tag, value in [
        (Tag.ImageWidth, rgb.shape[1]), (Tag.ImageLength, rgb.shape[0]), (Tag.TileWidth, rgb.shape[1]),
        (Tag.TileLength, rgb.shape[0]), (Tag.Orientation, Orientation.Horizontal),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array), (Tag.SamplesPerPixel, 1),
        (Tag.BitsPerSample, 12), (Tag.CFARepeatPatternDim, [2, 2]), (Tag.CFAPattern, CFAPattern.RGGB),
        (Tag.BlackLevel, 0), (Tag.WhiteLevel, 4095),
        (Tag.ColorMatrix1, [[value, 10_000_000] for row in xyz_to_srgb for value in row]),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65), (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.Make, "filterfit"), (Tag.Model, "test mosaic"), (Tag.DNGVersion, DNGVersion.V1_4),
        (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ]:  # fmt: skip
        tags.set(tag, value)
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    writer.convert(mosaic, filename=str(path.with_suffix("")))
    return path
