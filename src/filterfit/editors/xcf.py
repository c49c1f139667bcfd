"""Read the pixels of the one layer of an XCF file that GIMP 2.10 saved: how a render leaves GIMP.

GIMP's PNG writer is a plug-in, a process started for each file, and it costs
GIMP 20 times what its colour tools do (0.72 s against 0.03 s for a 384 x 256
photo); saving XCF is GIMP's own, in-process, and takes 4 ms. So a fit asks
GIMP for XCF and this module reads it: the layer's pixels as GIMP holds them,
the same as its PNG would have (the tests compare the two).

Only what such a render holds is read: one layer covering the canvas, 8 or
16 bits per channel with the sRGB curve (GIMP's "perceptual gamma" precisions),
RLE-compressed tiles (GIMP's default) or uncompressed ones. The layout is
GIMP's ``devel-docs/xcf.txt``: big-endian words, 64-bit pointers from version
11, 64 x 64 tiles in row-major order, each RLE tile one stream per byte of a
pixel.
"""

from __future__ import annotations

import struct

import numpy as np

from ..errors import EvaluationError

__all__ = ["read_xcf"]

TILE = 64
# GimpPrecision in XCF 7 and later: the integer precisions with the sRGB curve, and their bytes per channel.
PRECISIONS = {150: 1, 250: 2}
PROP_END, PROP_COMPRESSION = 0, 17
COMPRESSIONS = {0: "none", 1: "rle"}
CHANNELS = {0: 3, 1: 4, 2: 1, 3: 2}  # layer types: RGB, RGBA, gray, gray with alpha


def read_xcf(data: bytes) -> np.ndarray:
    """The first layer's pixels, float32 H x W x C in [0, 1] (C: 3 or 4, 1 or 2 for grey)."""
    try:
        return _Reader(data).pixels()
    except (struct.error, IndexError, ValueError) as error:
        raise EvaluationError(f"GIMP's XCF output is unreadable ({error})") from None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def pixels(self) -> np.ndarray:
        magic = self.data[:14]
        if not magic.startswith(b"gimp xcf ") or magic[13:14] != b"\0":
            raise ValueError("not an XCF file")
        version = 0 if magic[9:13] == b"file" else int(magic[10:13])
        self.at = 14
        width, height, _base = self.words(3)
        precision = self.word() if version >= 4 else 150
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision}: only 8- and 16-bit integer ones are read")
        self.pointer_size = 8 if version >= 11 else 4
        compression = self.properties().get(PROP_COMPRESSION, b"\1")[0]
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression {compression}: only RLE and none are read")
        layer = self.pointer()
        if layer == 0:
            raise ValueError("no layer")
        self.at = layer
        layer_width, layer_height, kind = self.words(3)
        if (layer_width, layer_height) != (width, height) or kind not in CHANNELS:
            raise ValueError(f"a layer of {layer_width} x {layer_height}, type {kind}, on a {width} x {height} canvas")
        self.at += 4 + self.word()  # the name: its length, then its bytes
        self.properties()
        self.at = self.pointer()  # the hierarchy
        _, _, bpp = self.words(3)
        self.at = self.pointer()  # its first level: the pixels
        self.words(2)
        depth = PRECISIONS[precision]
        if bpp != CHANNELS[kind] * depth:
            raise ValueError(f"{bpp} bytes per pixel for {CHANNELS[kind]} channels of {depth} bytes")
        columns, rows = -(-width // TILE), -(-height // TILE)
        tiles = [self.pointer() for _ in range(columns * rows)]
        image = np.empty((height, width, bpp), dtype=np.uint8)
        for number, start in enumerate(tiles):
            top, left = (number // columns) * TILE, (number % columns) * TILE
            h, w = min(TILE, height - top), min(TILE, width - left)
            image[top : top + h, left : left + w] = self.tile(start, w * h, bpp, compression).reshape(h, w, bpp)
        if depth == 1:
            return image.astype(np.float32) / 255
        wide = image.reshape(height, width, bpp // 2, 2).astype(np.uint16)
        return ((wide[..., 0] << 8) | wide[..., 1]).astype(np.float32) / 65535  # big-endian, as XCF keeps them

    def tile(self, start: int, count: int, bpp: int, compression: int) -> np.ndarray:
        """A tile's ``count`` pixels of ``bpp`` bytes each, pixel after pixel."""
        if compression == 0:
            return np.frombuffer(self.data, dtype=np.uint8, count=count * bpp, offset=start)
        streams = np.empty((bpp, count), dtype=np.uint8)
        at = start
        for byte in range(bpp):  # RLE: the first byte of every pixel, then the second, ...
            stream, at = _unrun(self.data, at, count)
            streams[byte] = np.frombuffer(stream, dtype=np.uint8)
        return streams.T

    def word(self) -> int:
        (value,) = struct.unpack_from(">I", self.data, self.at)
        self.at += 4
        return int(value)

    def words(self, count: int) -> tuple[int, ...]:
        values = struct.unpack_from(f">{count}I", self.data, self.at)
        self.at += 4 * count
        return tuple(int(v) for v in values)

    def pointer(self) -> int:
        (value,) = struct.unpack_from(">Q" if self.pointer_size == 8 else ">I", self.data, self.at)
        self.at += self.pointer_size
        return int(value)

    def properties(self) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        while True:
            kind, length = self.words(2)
            if kind == PROP_END:
                return found
            found[kind] = self.data[self.at : self.at + length]
            self.at += length


def _unrun(data: bytes, at: int, count: int) -> tuple[bytes, int]:
    """One RLE stream of ``count`` bytes from ``at``; and where the next begins."""
    out = bytearray()
    while len(out) < count:
        op = data[at]
        if op <= 126:  # a short run of one value
            out += data[at + 1 : at + 2] * (op + 1)
            at += 2
        elif op == 127:  # a long run of one value
            out += data[at + 3 : at + 4] * (data[at + 1] * 256 + data[at + 2])
            at += 4
        else:  # a stretch copied: long (128, then its length) or short (256 - op bytes)
            length, at = (data[at + 1] * 256 + data[at + 2], at + 3) if op == 128 else (256 - op, at + 1)
            out += data[at : at + length]
            at += length
    if len(out) != count:
        raise ValueError("an RLE stream runs past its tile")
    return bytes(out), at
