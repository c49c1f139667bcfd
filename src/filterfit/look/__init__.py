"""Looks: filterfit's own photo adjustments, and fitting them.

Modules:
    adjustments   -- one vectorised function per adjustment, with ranges and neutral values
    look          -- ``Look``: an ordered selection of adjustments, usable as a filter
    distribution  -- a metric for photos of different scenes (colour and tone distributions)
    imagemagick   -- a look as ImageMagick operators, one translation per adjustment (export --command)
"""

from .adjustments import ADJUSTMENTS
from .look import DEFAULT_ADJUSTMENTS, Look, LookError, as_look

__all__ = ["ADJUSTMENTS", "DEFAULT_ADJUSTMENTS", "Look", "LookError", "as_look"]
