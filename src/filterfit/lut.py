"""3D LUTs measured from a fitted filter: lattice images rendered through it, applied, written as files.

An image holding every colour of a lattice is rendered through the filter
itself, so any per-pixel filter can be measured, command templates included.
A filter that is not per-pixel (a blur, a vignette, grain) is found by
rendering probes, and only its global colour part fits in a LUT:
:attr:`Lut.spatial` names what is left out. :mod:`filterfit.export` writes the
LUTs a user asks for and says how close they come to the filter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import FilterFitError
from .images import Image, save_image
from .metrics import psnr

if TYPE_CHECKING:
    from .apply import Fitted

__all__ = [
    "CUBE_SIZE",
    "HALD_LEVEL",
    "Lut",
    "apply_lut",
    "identity_table",
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
