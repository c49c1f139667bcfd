"""Export what was fitted: a .cube 3D LUT, a Hald CLUT PNG, a runnable command line.

A command template exports as itself with the best parameters; a look as
ImageMagick operators (:mod:`filterfit.look.imagemagick`), which
:func:`export_command` runs on a photo and measures against the look.

The LUTs come from the fitted filter itself: :mod:`filterfit.lut` renders an
image holding every colour of a lattice through it, so any per-pixel filter
can be exported, command templates included. A filter that is not per-pixel (a
blur, a vignette, grain) is found by rendering probes, and only its global
colour part fits in a LUT: :attr:`~filterfit.lut.Lut.spatial` names what is
left out, and :func:`export_luts` states how close the LUT comes to the
filter, in dB PSNR on a photo.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .apply import Fitted, rebuild
from .errors import FilterFitError
from .filters import CommandFilter
from .filters.settings_file import settings_files
from .images import Image, load_image, to_float
from .lut import (  # in __all__ still: they were defined here
    CUBE_SIZE,
    HALD_LEVEL,
    Lut,
    apply_lut,
    lattice_image,
    measure_lut,
    spatial_parts,
    write_cube,
    write_hald,
)
from .lut import identity_table as identity_table  # re-exported: tests import it from here
from .metrics import psnr
from .result import FitResult

__all__ = [
    "CUBE_SIZE",
    "HALD_LEVEL",
    "Command",
    "Exported",
    "Lut",
    "apply_lut",
    "command_line",
    "export_command",
    "export_luts",
    "lattice_image",
    "measure_lut",
    "spatial_parts",
    "write_cube",
    "write_hald",
]

CHECK_SIDE = 1024  # the check photo's longest side at most: a larger one is subsampled


def command_line(result: FitResult, *, input: str = "input.png", output: str = "output.png") -> str:
    """A command line for a shell: the fitted template with its best parameters, or a look in ImageMagick.

    A look becomes ImageMagick 6 ``convert`` operators, adjustment by
    adjustment (:mod:`filterfit.look.imagemagick`); :func:`export_command`
    also says how close that comes to the look and what it leaves out.

    Examples
    --------
    >>> command_line(result)  # doctest: +SKIP
    'convert input.png -blur 27x20 output.png'
    """
    return shlex.join(_command_argv(result, rebuild(result), input, output)[0])


def _command_argv(result: FitResult, fitted: Fitted, input: str, output: str) -> tuple[list[str], tuple[str, ...]]:
    """The argv of the command and the look's adjustments it leaves out (``fitted``: ``rebuild(result)``)."""
    stored_look = getattr(result, "look", None)
    if stored_look is None:
        return _program(result, fitted).argv(result.best_params, input, output), ()  # settings files by --out's names
    from .look import Look
    from .look.imagemagick import look_operators

    operators, left_out = look_operators(Look.from_dict(stored_look))
    return ["convert", input, *operators, output], left_out


def _program(result: FitResult, fitted: Fitted) -> CommandFilter:
    """The command of a template, with its settings files, or of an editor (in PNG, 8 bits)."""
    editor = getattr(result, "editor", None)
    if editor:
        from .editors import editor_filter

        return editor_filter(editor).command_filter()
    return CommandFilter(fitted.description, files=settings_files(getattr(result, "files", None)))


def _settings_read(result: FitResult) -> tuple[str, ...]:
    """The settings files the exported command reads: the ones --out wrote beside result.json."""
    editor = getattr(result, "editor", None)
    if editor:
        from .editors import get_editor

        return (f"look{get_editor(editor['name']).suffix}",)
    return tuple(f"{name}{data.get('suffix', '.txt')}" for name, data in (getattr(result, "files", None) or {}).items())


@dataclass(frozen=True)
class Command:
    """What :func:`export_command` made: the command line and, for a look, how close it comes."""

    text: str
    psnr: float | None = None  # dB against the look's own render; None for a template (it is the filter)
    left_out: tuple[str, ...] = ()  # adjustments ImageMagick cannot reproduce
    check_photo: str = ""
    reads: tuple[str, ...] = ()  # settings files the command reads (written by --out beside result.json)

    @property
    def warnings(self) -> list[str]:
        from .look.imagemagick import NO_EQUIVALENT

        read = [f"the command reads {name}: the settings --out wrote beside result.json" for name in self.reads]
        return read + [f"the command leaves out {name}: {NO_EQUIVALENT[name]}" for name in self.left_out]


def export_command(result: FitResult, *, check: str | Path | None = None) -> Command:
    """The command line reproducing ``result``; for a look, run by ImageMagick and measured in dB PSNR.

    Parameters
    ----------
    check : path, optional
        The photo to measure a look's command on (ImageMagick's render against
        the look's); default the fit's source photo when it is still there,
        else scikit-image's 512x512 astronaut.
    """
    fitted = rebuild(result)  # checks the template or the look, the parameters and the program
    if getattr(result, "look", None) is None:
        argv = _command_argv(result, fitted, "input.png", "output.png")[0]
        return Command(shlex.join(argv), reads=_settings_read(result))
    argv, left_out = _command_argv(result, fitted, "{input}", "{output}")
    text = shlex.join([{"{input}": "input.png", "{output}": "output.png"}.get(word, word) for word in argv])
    photo, label = _check_photo(check, result)
    photo = replace(photo, bit_depth=16)  # so that the figure is the command's own accuracy, not 8-bit rounding
    words = [word if word in ("{input}", "{output}") else word.replace("{", "{{").replace("}", "}}") for word in argv]
    program = CommandFilter(shlex.join(words))
    program.require_program()
    rendered = program.prepare([photo], photo, single_thread=False).render(photo, {})[:, :, :3]
    reference = fitted.render(photo)[:, :, :3]
    return Command(text, round(psnr(reference, rendered), 2), left_out, label)


@dataclass(frozen=True)
class Exported:
    """What :func:`export_luts` wrote and how close each LUT comes to the filter."""

    written: dict[str, Path] = field(default_factory=dict)  # "cube" / "hald" -> file
    psnr: dict[str, float] = field(default_factory=dict)  # the same keys -> dB on the check photo
    spatial: tuple[str, ...] = ()
    check_photo: str = ""

    @property
    def warnings(self) -> list[str]:
        if not self.spatial:
            return []
        return [
            "the filter is not per-pixel, so the LUT holds only its global colour part and leaves out "
            + ", ".join(self.spatial)
        ]


def export_luts(
    result: FitResult,
    *,
    cube: str | Path | None = None,
    hald: str | Path | None = None,
    check: str | Path | None = None,
) -> Exported:
    """Write the fitted filter as a .cube and/or a Hald CLUT, and measure each against the filter.

    Parameters
    ----------
    cube, hald : path, optional
        Where to write the 33^3 .cube and the level-8 Hald PNG.
    check : path, optional
        The photo to measure the LUTs on (LUT-applied vs filter-rendered);
        default the fit's source photo when it is still there, else
        scikit-image's 512x512 astronaut.
    """
    fitted = rebuild(result)
    photo, label = _check_photo(check, result)
    # At 16 bits, so that the figure is the LUT's own accuracy, not 8-bit rounding (ImageMagick truncates some)
    reference = fitted.render(replace(photo, bit_depth=16))[:, :, :3]
    written: dict[str, Path] = {}
    accuracy: dict[str, float] = {}
    spatial: tuple[str, ...] = ()
    for kind, path, size in (("cube", cube, CUBE_SIZE), ("hald", hald, HALD_LEVEL**2)):
        if path is None:
            continue
        lut = measure_lut(fitted, size)
        spatial = lut.spatial
        accuracy[kind] = round(psnr(reference, lut.apply(photo.pixels)), 2)
        comments = (f"from filterfit: {fitted.description}", f"{accuracy[kind]:.1f} dB PSNR vs the filter on {label}")
        if kind == "cube":
            written[kind] = write_cube(lut, path, title=fitted.description, comments=comments)
        else:
            written[kind] = write_hald(lut, path)
    return Exported(written, accuracy, spatial, label)


def _check_photo(check: str | Path | None, result: FitResult) -> tuple[Image, str]:
    """--check, else the fit's first source photo if it is still there, else the astronaut; at most CHECK_SIDE."""
    if check is not None:
        image = load_image(check)
        if image.channels != 3:
            raise FilterFitError(f"--check {check} has {image.channels} channels: give an RGB photo")
        return _reduced(image, str(check))
    source = next(iter(result.sources), None)
    if source is not None and Path(source).is_file():
        image = load_image(source)
        if image.channels in (3, 4):
            return _reduced(replace(image, pixels=image.pixels[:, :, :3]), f"the fit's source {Path(source).name}")
    from skimage import data

    return Image(to_float(data.astronaut()), bit_depth=8, format="png"), "scikit-image's astronaut (512x512)"


def _reduced(image: Image, label: str) -> tuple[Image, str]:
    """Every n-th pixel of a large photo: the figure hardly changes, and it is measured in seconds."""
    stride = -(-max(image.height, image.width) // CHECK_SIDE)
    if stride == 1:
        return image, label
    pixels = np.ascontiguousarray(image.pixels[::stride, ::stride])
    return replace(image, pixels=pixels), f"{label} (subsampled 1:{stride})"
