"""Issue 18's LUT peer: a 3D LUT fitted to a before/after pair by least squares.

This is the method of darktable-lut-generator and of most "make a LUT from a pair" tools: the
table's 17^3 entries are the unknowns, every pixel of the pair is one equation (its trilinear
interpolation of the 8 surrounding entries should give the target colour), and a small smoothness
term fills the entries no pixel reaches. The smoothness is on second differences along each axis,
so an empty corner of the cube continues the slope of its neighbours (linear extrapolation) rather
than flattening out: the kindest choice for the peer on other photos.

It is written here, not taken from a package, because no maintained package on PyPI fits a LUT to
a pair; the application is filterfit's own trilinear ``apply_lut``, as the .cube files are.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import factorized

from filterfit.lut import apply_lut

SIZE = 17
SMOOTHNESS = 1e-3  # the smoothness term's weight, as a share of the pixels' equations per table entry


def fit_lut(source: np.ndarray, target: np.ndarray, size: int = SIZE, smoothness: float = SMOOTHNESS) -> np.ndarray:
    """A ``[blue, green, red]``-indexed table (``size``^3 x 3) that maps ``source`` colours to ``target``'s."""
    pixels = source.reshape(-1, 3).astype(np.float64)
    interpolation = _interpolation_matrix(pixels, size)
    second = _second_differences(size)
    weight = smoothness * len(pixels) / size**3
    normal = (interpolation.T @ interpolation + weight * (second.T @ second)).tocsc()
    solve = factorized(normal)
    right = interpolation.T @ target.reshape(-1, 3).astype(np.float64)
    table = np.stack([solve(right[:, channel]) for channel in range(3)], axis=1)
    return np.clip(table, 0, 1).reshape(size, size, size, 3).astype(np.float32)


def apply(table: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    return np.clip(apply_lut(table, pixels), 0, 1)


def _interpolation_matrix(pixels: np.ndarray, size: int) -> sparse.csr_matrix:
    """Row i holds pixel i's 8 trilinear weights, in the columns of the table entries they fall on."""
    scaled = np.clip(pixels, 0, 1) * (size - 1)
    low = np.minimum(np.floor(scaled).astype(np.intp), size - 2)
    fraction = scaled - low
    rows, columns, weights = [], [], []
    for corner in range(8):
        step = [(corner >> axis) & 1 for axis in range(3)]  # red, green, blue offsets
        weight = np.ones(len(pixels))
        for axis in range(3):
            weight *= fraction[:, axis] if step[axis] else 1 - fraction[:, axis]
        red, green, blue = (low[:, axis] + step[axis] for axis in range(3))
        rows.append(np.arange(len(pixels)))
        columns.append((blue * size + green) * size + red)
        weights.append(weight)
    return sparse.csr_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(columns))), shape=(len(pixels), size**3)
    )


def _second_differences(size: int) -> sparse.csr_matrix:
    """The second differences of the table along blue, green and red, stacked."""
    line = sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(size - 2, size))
    eye = sparse.identity(size)
    along = [
        sparse.kron(sparse.kron(line, eye), eye),  # blue, the slowest index
        sparse.kron(sparse.kron(eye, line), eye),
        sparse.kron(sparse.kron(eye, eye), line),  # red, the fastest
    ]
    return sparse.vstack(along).tocsr()
