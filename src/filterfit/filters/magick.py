"""ImageMagick and GraphicsMagick through pipes: the formats on stdin and stdout, and the 16-bit PPM check.

ImageMagick (``convert``, ``magick``) and GraphicsMagick (``gm``) read the
source from stdin as uncompressed PPM/PAM and write to stdout in the target's
own format, uncompressed, so the render is quantised exactly as the program
would write the target file (ImageMagick rounds PNG and PPM samples
differently).

An 8-bit RGB PNG target is the common case, and PNG costs ImageMagick 5 ms
more to write than 16-bit PPM (5% of a 512x512 27x20 blur's evaluation),
even stored uncompressed. ImageMagick 6 at 16 bits per sample (Q16) writes such a PNG as
its 16-bit sample q cut to ``q // 257``: where a check of the installed
program shows exactly that, it writes 16-bit PPM instead and filterfit cuts
the samples itself, to the same pixels.
"""

from __future__ import annotations

import functools
import shlex
import weakref
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import EvaluationError, ImageError, TemplateError
from ..images import Image, decode_pnm, encode_pnm, to_float

__all__ = ["PIPE_PROGRAMS", "cut_to_8_bits", "pipe_input", "pipe_input_format", "pipe_output", "png_is_16_bit_cut"]

PIPE_PROGRAMS = frozenset({"convert", "magick", "gm"})

# Per-process cache: a worker encodes each source once and reuses it. Weak keys, not
# id(image): a freed image's id is reused by the next one, which then got stale pixels.
_PIPE_INPUTS: weakref.WeakKeyDictionary[Image, bytes] = weakref.WeakKeyDictionary()


def pipe_input(image: Image) -> bytes:
    """The source as the program reads it on stdin: PGM, PPM or PAM at the image's depth."""
    if image not in _PIPE_INPUTS:
        _PIPE_INPUTS[image] = encode_pnm(image.pixels, image.bit_depth)
    return _PIPE_INPUTS[image]


def pipe_input_format(channels: int) -> str:
    """The argv word for stdin, by the source's channels."""
    return {1: "pgm:-", 3: "ppm:-"}.get(channels, "pam:-")


def pipe_output(program: str, output_format: str, *, png_as_16_bit: bool) -> list[str]:
    """The argv words for stdout: the target's format, uncompressed (or 16-bit PPM, see the module)."""
    if png_as_16_bit:
        return ["-depth", "16", "ppm:-"]
    graphicsmagick = Path(program).name == "gm"
    if output_format == "png":
        level = ["-quality", "1"] if graphicsmagick else ["-define", "png:compression-level=0"]
        return [*level, "png:-"]
    if output_format == "tiff":
        return ["-compress", "none", "tiff:-"]
    return [f"{'pam' if output_format == 'pnm' else output_format}:-"]


def cut_to_8_bits(data: bytes) -> np.ndarray:
    """16-bit PPM from the program as float pixels of the 8-bit PNG it would have written."""
    try:
        samples, maxval = decode_pnm(data)
    except ImageError as error:
        raise EvaluationError(f"unreadable image on stdout: {error}") from None
    if maxval != 65535:
        raise EvaluationError(
            f"the program wrote {maxval + 1}-level samples to stdout where 16-bit ones were asked for"
        )
    return to_float((samples // 257).astype(np.uint8))


@functools.cache
def png_is_16_bit_cut(program: str) -> bool:
    """True when ``program`` writes 8-bit PNG samples as its 16-bit ones cut to ``q // 257``.

    Checked on blurred noise (samples of every kind) through the very pipes the evaluations use,
    once per program and process: a build with floating-point samples (HDRI, ImageMagick 7's
    default) or another rounding fails it.
    """
    from .command import CommandFilter  # which runs these pipes

    noise = Image(to_float(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    try:
        blur = CommandFilter(f"{shlex.quote(program)} {{input}} -blur 0x0.8 {{output}}", timeout=30, single_thread=True)
        png, cut = (replace(blur, png_as_16_bit=cheaper).render(noise, {}) for cheaper in (False, True))
    except (EvaluationError, TemplateError):
        return False
    return png.shape == cut.shape and bool(np.array_equal(png, cut))
