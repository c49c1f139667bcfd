"""Export what was fitted: a .cube 3D LUT, a Hald CLUT PNG, a runnable command line.

A command template exports as itself with the best parameters; a look as
ImageMagick operators (:mod:`filterfit.look.imagemagick`), which
:func:`export_command` runs on a photo and measures against the look.

The LUTs come from the fitted filter itself: an image holding every colour
of a lattice is rendered through it, so any per-pixel filter can be exported,
command templates included. A filter that is not per-pixel (a blur, a
vignette, grain) is found by rendering probes, and only its global colour part
fits in a LUT: :attr:`Lut.spatial` names what is left out, and
:func:`export_luts` states how close the LUT comes to the filter, in dB PSNR
on a photo.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .apply import Fitted, rebuild
from .errors import FilterFitError
from .filters import CommandFilter
from .images import Image, load_image, save_image, to_float
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

CUBE_SIZE = 33  # the size Resolve and Adobe tools use most
HALD_LEVEL = 8  # ImageMagick's hald:8, a 512x512 image of a 64^3 lattice
PER_PIXEL_DB = 60.0  # a shuffled probe rendered this close to the shuffled render: per-pixel
BLOCK = 6  # pixels per side of each colour when the filter mixes neighbours
PROBE_SIZE = 17  # lattice steps of the per-pixel probe (4913 colours)
CHECK_SIDE = 1024  # the check photo's longest side at most: a larger one is subsampled

# What spatial_parts finds; export's warning names them.
NOISE = "random noise or grain (renders differ from run to run)"
POSITION = "position-dependent effects such as a vignette (the LUT holds the colours at the image centre)"
NEIGHBOURS = "effects that mix neighbouring pixels such as a blur or sharpening"

Render = Callable[[Image], np.ndarray]


@dataclass(frozen=True)
class Lut:
    """A 3D lookup table measured from a fitted filter.

    Parameters
    ----------
    table : ndarray of float32, shape (N, N, N, 3)
        Output RGB indexed ``[blue, green, red]``, so that C order lists red
        fastest, as .cube files and Hald images do.
    spatial : tuple of str
        What the filter does that the table cannot hold (empty: nothing).
    """

    table: np.ndarray
    spatial: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return int(self.table.shape[0])

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """The table applied to RGB pixels by trilinear interpolation."""
        return apply_lut(self.table, pixels)


def lattice_image(size: int, block: int = 1) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """An image holding every colour of a ``size``-step lattice, and where each colour is.

    Neighbouring pixels differ by at most one lattice step: blue picks a tile
    along x, red runs along x inside a tile (backwards in every other tile, so
    tiles meet at equal red) and green runs down. A filter that mixes
    neighbours (a blur) then changes the colours little, and with
    ``block > 1`` each colour is a ``block`` x ``block`` square whose centre is
    read back.

    Returns
    -------
    image : ndarray of float32, shape (size * block, size * size * block, 3)
    where : (blue, green, red) index arrays of shape (size, size * size)
        Lattice indices of the colour at each block.
    """
    columns = np.arange(size * size)
    blue = np.broadcast_to(columns // size, (size, size * size))
    within = columns % size
    red = np.broadcast_to(np.where((columns // size) % 2 == 0, within, size - 1 - within), (size, size * size))
    green = np.broadcast_to(np.arange(size)[:, np.newaxis], (size, size * size))
    image = np.stack([red, green, blue], axis=2).astype(np.float32) / np.float32(size - 1)
    image = np.repeat(np.repeat(image, block, axis=0), block, axis=1)
    return image, (blue, green, red)


def _as_image(pixels: np.ndarray) -> Image:
    return Image(np.ascontiguousarray(pixels, dtype=np.float32), bit_depth=16, format="png")


def _render_checked(render: Render, pixels: np.ndarray) -> np.ndarray:
    rendered = render(_as_image(pixels))
    if rendered.shape[:2] != pixels.shape[:2]:
        raise FilterFitError(
            f"the filter turned a {pixels.shape[1]}x{pixels.shape[0]} image into {rendered.shape[1]}x"
            f"{rendered.shape[0]}: a LUT needs a filter that keeps the size"
        )
    return rendered[:, :, :3]


def _render_table(render: Render, size: int, block: int) -> np.ndarray:
    """Each colour of the lattice image rendered, read back as the median of its block (noise averages out)."""
    image, (blue, green, red) = lattice_image(size, block)
    rendered = _render_checked(render, image)
    blocks = rendered.reshape(size, block, size * size, block, 3)
    table = np.empty((size, size, size, 3), dtype=np.float32)
    table[blue, green, red] = blocks[:, 0, :, 0] if block == 1 else np.median(blocks, axis=(1, 3))
    return table


def _render_centred(render: Render, size: int) -> np.ndarray:
    """The lattice as a square in the middle third of a grey canvas, away from the edges a vignette shades."""
    colours = identity_table(size).reshape(-1, 3)
    side = math.isqrt(len(colours) - 1) + 1
    square = np.full((side * side, 3), 0.5, dtype=np.float32)
    square[: len(colours)] = colours
    canvas = np.full((3 * side, 3 * side, 3), 0.5, dtype=np.float32)
    canvas[side : 2 * side, side : 2 * side] = square.reshape(side, side, 3)
    rendered = _render_checked(render, canvas)[side : 2 * side, side : 2 * side]
    return np.ascontiguousarray(rendered.reshape(-1, 3)[: len(colours)].reshape(size, size, size, 3))


def spatial_parts(render: Render) -> tuple[str, ...]:
    """What keeps a filter from being per-pixel, found by rendering probes; () when it is per-pixel.

    A per-pixel filter renders a shuffled image as the shuffled render. When
    it does not, a flat grey image tells the kind: renders that differ from
    run to run are noise, an uneven render is position-dependent, and an even
    one means the filter mixes neighbouring pixels.
    """
    image, _ = lattice_image(PROBE_SIZE)
    order = np.random.default_rng(0).permutation(image.shape[0] * image.shape[1])
    flat = image.reshape(-1, 3)
    rendered = render(_as_image(image))
    shuffled = render(_as_image(flat[order].reshape(image.shape)))
    if rendered.shape == shuffled.shape == image.shape:
        if psnr(rendered.reshape(-1, 3)[order], shuffled.reshape(-1, 3)) >= PER_PIXEL_DB:
            return ()
    grey = np.full((64, 64, 3), 0.5, dtype=np.float32)
    first, second = render(_as_image(grey)), render(_as_image(grey))
    if psnr(first, second) < PER_PIXEL_DB:
        return (NOISE,)
    if psnr(first, np.full_like(first, float(np.median(first)))) < PER_PIXEL_DB:
        return (POSITION,)
    return (NEIGHBOURS,)


def measure_lut(fitted: Fitted, size: int = CUBE_SIZE) -> Lut:
    """Render a ``size``-step lattice through the fitted filter's colour part.

    Examples
    --------
    >>> from filterfit.apply import rebuild
    >>> lut = measure_lut(rebuild(result), 33)  # doctest: +SKIP
    >>> lut.table.shape  # doctest: +SKIP
    (33, 33, 33, 3)
    """
    if size < 2:
        raise FilterFitError(f"a LUT needs at least 2 steps per channel, but got size={size}")
    known = fitted.spatial is not None  # a look splits off its colour part itself: that part is per-pixel
    spatial = fitted.spatial if fitted.spatial is not None else spatial_parts(fitted.colour)
    if known or not spatial:
        return Lut(_render_table(fitted.colour, size, 1), spatial)
    coarse = min(size, CUBE_SIZE)  # blocks of 6x6 at 64 steps would be 4096 x 393216 pixels
    if POSITION in spatial:
        table = _render_centred(fitted.colour, coarse)
    else:
        table = _render_table(fitted.colour, coarse, BLOCK)
    if coarse != size:
        table = apply_lut(table, identity_table(size))
    return Lut(table, spatial)


def identity_table(size: int) -> np.ndarray:
    """The lattice itself: ``table[b, g, r] = (r, g, b) / (size - 1)``."""
    steps = np.arange(size, dtype=np.float32) / np.float32(size - 1)
    blue, green, red = np.meshgrid(steps, steps, steps, indexing="ij")
    return np.stack([red, green, blue], axis=3)


def apply_lut(table: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Apply a ``[blue, green, red]``-indexed table to RGB pixels (any leading shape) by trilinear interpolation."""
    size = table.shape[0]
    scaled = np.clip(pixels[..., :3], 0, 1) * (size - 1)
    low = np.minimum(np.floor(scaled).astype(np.intp), size - 2)
    fraction = (scaled - low).astype(np.float32)
    output = np.zeros(pixels.shape[:-1] + (3,), dtype=np.float32)
    for corner in range(8):
        step = [(corner >> axis) & 1 for axis in range(3)]  # red, green, blue offsets
        weight = np.ones(pixels.shape[:-1], dtype=np.float32)
        for axis in range(3):
            weight *= fraction[..., axis] if step[axis] else 1 - fraction[..., axis]
        output += weight[..., np.newaxis] * table[low[..., 2] + step[2], low[..., 1] + step[1], low[..., 0] + step[0]]
    return output


def write_cube(lut: Lut, path: str | Path, *, title: str = "filterfit", comments: tuple[str, ...] = ()) -> Path:
    """Write an Adobe / DaVinci Resolve ``.cube`` 3D LUT (red varies fastest)."""
    path = Path(path)
    title = " ".join(title.replace('"', "'").split())
    header = [f'TITLE "{title}"', *(f"# {line}" for line in comments), f"LUT_3D_SIZE {lut.size}"]
    header += ["DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    rows = np.clip(lut.table, 0, 1).reshape(-1, 3)
    body = "\n".join(f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in rows.tolist())
    _write(path, "\n".join(header) + "\n" + body + "\n")
    return path


def write_hald(lut: Lut, path: str | Path) -> Path:
    """Write a 16-bit Hald CLUT PNG, as ImageMagick's ``-hald-clut`` reads it.

    A level-L Hald image is L^3 x L^3 pixels listing an L^2-step lattice red
    fastest, row after row.
    """
    level = round(lut.size**0.5)
    if level * level != lut.size:
        raise FilterFitError(f"a Hald CLUT needs a square number of steps (64 for level 8), but got {lut.size}")
    side = level**3
    pixels = np.clip(lut.table, 0, 1).reshape(side, side, 3)
    try:
        return save_image(pixels, path, bit_depth=16)
    except OSError as error:
        raise _cannot_write(Path(path), error) from None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="ascii")
    except OSError as error:
        raise _cannot_write(path, error) from None


def _cannot_write(path: Path, error: OSError) -> FilterFitError:
    fix = f"create the folder {path.parent} first" if not path.parent.is_dir() else "choose another file name"
    return FilterFitError(f"cannot write {path}: {error.strerror}; {fix}")


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
        return CommandFilter(fitted.description).argv(result.best_params, input, output), ()
    from .look import Look
    from .look.imagemagick import look_operators

    operators, left_out = look_operators(Look.from_dict(stored_look))
    return ["convert", input, *operators, output], left_out


@dataclass(frozen=True)
class Command:
    """What :func:`export_command` made: the command line and, for a look, how close it comes."""

    text: str
    psnr: float | None = None  # dB against the look's own render; None for a template (it is the filter)
    left_out: tuple[str, ...] = ()  # adjustments ImageMagick cannot reproduce
    check_photo: str = ""

    @property
    def warnings(self) -> list[str]:
        from .look.imagemagick import NO_EQUIVALENT

        return [f"the command leaves out {name}: {NO_EQUIVALENT[name]}" for name in self.left_out]


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
        return Command(shlex.join(_command_argv(result, fitted, "input.png", "output.png")[0]))
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
