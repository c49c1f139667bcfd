"""Reading the one layer of an XCF file as GIMP 2.10 saves a render (test_gimp.py compares it with its PNG)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from filterfit.editors.xcf import read_xcf
from filterfit.errors import EvaluationError


def xcf(pixels: np.ndarray, *, depth: int = 1, rle: bool = True) -> bytes:
    """An XCF v011 file holding ``pixels`` (H x W x C integers) as one layer, laid out as xcf.txt says."""
    height, width, channels = pixels.shape
    kind = {3: 0, 4: 1, 1: 2, 2: 3}[channels]
    precision = {1: 150, 2: 250}[depth]
    raw = pixels.astype(">u2").view(np.uint8).reshape(height, width, -1) if depth == 2 else pixels.astype(np.uint8)
    bpp = raw.shape[2]
    tiles = []
    for top in range(0, height, 64):
        for left in range(0, width, 64):
            tile = raw[top : top + 64, left : left + 64].reshape(-1, bpp)
            tiles.append(b"".join(_rle(tile[:, byte].tobytes()) for byte in range(bpp)) if rle else tile.tobytes())
    header = b"gimp xcf v011\0" + struct.pack(">4I", width, height, 0, precision)
    properties = struct.pack(">2IB", 17, 1, 1 if rle else 0) + struct.pack(">2I", 0, 0)
    layer_at = len(header) + len(properties) + 8 * 3
    layer = struct.pack(">3I", width, height, kind) + struct.pack(">I", 6) + b"photo\0" + struct.pack(">2I", 0, 0)
    hierarchy_at = layer_at + len(layer) + 16
    level_at = hierarchy_at + 12 + 16
    tiles_at = level_at + 8 + 8 * (len(tiles) + 1)
    pointers, at = [], tiles_at
    for tile in tiles:
        pointers.append(at)
        at += len(tile)
    return (
        header + properties + struct.pack(">3Q", layer_at, 0, 0) + layer + struct.pack(">2Q", hierarchy_at, 0)
        + struct.pack(">3I", width, height, bpp) + struct.pack(">2Q", level_at, 0)
        + struct.pack(">2I", width, height) + struct.pack(f">{len(tiles) + 1}Q", *pointers, 0) + b"".join(tiles)
    )  # fmt: skip


def _rle(stream: bytes) -> bytes:
    """One byte stream in GIMP's RLE: runs of one value (short and long), stretches copied (short and long)."""
    out, at = bytearray(), 0
    while at < len(stream):
        run = 1
        while at + run < len(stream) and stream[at + run] == stream[at]:
            run += 1
        if run >= 2:
            out += bytes([run - 1, stream[at]]) if run <= 127 else bytes([127, run >> 8, run & 255, stream[at]])
            at += run
            continue
        end = at + 1
        while end < len(stream) and end - at < 300 and stream[end] != stream[end - 1]:
            end += 1
        stretch = stream[at:end]
        out += (
            bytes([256 - len(stretch)]) if len(stretch) <= 127 else bytes([128, len(stretch) >> 8, len(stretch) & 255])
        )
        out += stretch
        at = end
    return bytes(out)


@pytest.mark.parametrize("rle", [True, False])
@pytest.mark.parametrize("channels", [3, 4, 1])
def test_a_layer_of_several_tiles_reads_back_exactly(rle, channels):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, size=(70, 130, channels))
    pixels[10:40, :90] = 200  # long runs of one value beside stretches of noise
    np.testing.assert_array_equal(read_xcf(xcf(pixels, rle=rle)), pixels.astype(np.float32) / 255)


def test_16_bits_are_read_big_endian():
    pixels = np.random.default_rng(0).integers(0, 65536, size=(65, 66, 3))
    np.testing.assert_array_equal(read_xcf(xcf(pixels, depth=2)), (pixels / 65535).astype(np.float32))


def test_what_is_not_a_render_of_gimps_fails_the_evaluation_with_a_reason():
    good = xcf(np.zeros((8, 8, 3)))
    with pytest.raises(EvaluationError, match="not an XCF file"):
        read_xcf(b"\x89PNG" + good[4:])
    with pytest.raises(EvaluationError, match="unreadable"):
        read_xcf(good[:-20])
    linear = good[:26] + struct.pack(">I", 100) + good[30:]
    with pytest.raises(EvaluationError, match="precision 100"):
        read_xcf(linear)
