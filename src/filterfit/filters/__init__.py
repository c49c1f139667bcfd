"""Filters: the black boxes filterfit fits (command templates, Python functions).

Modules:
    base      -- ``Filter``, what every filter is, and ``as_filter``
    command   -- ``CommandFilter``: an external program from a command template
    magick    -- ImageMagick and GraphicsMagick through pipes: formats, the 16-bit PPM check
    program   -- running the program: an argv list, its own session, a timeout, files in RAM
    function  -- ``FunctionFilter``: a Python function ``f(image, **params) -> image``
"""

from .base import Filter, as_filter
from .command import CommandFilter
from .function import FunctionFilter

__all__ = ["CommandFilter", "Filter", "FunctionFilter", "as_filter"]
