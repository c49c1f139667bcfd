"""Reading, writing and piping images as float32 arrays in [0, 1].

Every image inside filterfit is an :class:`Image`: ``pixels`` of shape
H x W x C (C is 1 for grey, 2 for grey + alpha, 3 for RGB, 4 for RGBA) plus
the facts about the file it came from that matter when comparing and saving:
bit depth, format, and whether the format is lossy.

Alpha is kept on purpose, as one more channel: it is sent to programs, the
pixel metrics compare it like a colour, and colour metrics (``de2000``) ignore
it. Programs that drop or add alpha are reconciled with the target by
:func:`match_channels`.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageError

__all__ = [
    "MAX_PIXELS",
    "Image",
    "decode",
    "decode_pnm",
    "encode_png",
    "encode_pnm",
    "load_image",
    "match_channels",
    "save_image",
    "to_float",
]

LOSSY_FORMATS = frozenset({"jpeg", "webp"})
# Camera RAW files: a photo editor develops them (--editor); filterfit does not decode them itself.
RAW_SUFFIXES = frozenset(
    {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf", ".rw2", ".raf", ".pef", ".srw",
     ".3fr", ".iiq", ".erf", ".kdc", ".mrw", ".x3f"}
)  # fmt: skip
# Files claiming more pixels are refused before they are decoded: a few kilobytes of PNG can
# claim 16384 x 16384 blank pixels (a "decompression bomb") and ask for gigabytes of memory.
# More than nearly every camera's photo; raise it with --max-pixels, or max_pixels= from Python.
MAX_PIXELS = 150_000_000
_PILLOW_LIMIT = threading.Lock()  # guards Pillow's global bomb limit while it is lifted for one open
_PNM_HEADER = re.compile(rb"\A(P[5-7])\s")


@dataclass(frozen=True, eq=False)
class Image:
    """A decoded image and the facts about its file that filterfit uses.

    Parameters
    ----------
    pixels : ndarray of float32, shape (H, W, C)
        Values in [0, 1].
    bit_depth : int
        Bits per sample of the file (8 or 16).
    format : str
        Lower-case format name: ``png``, ``tiff``, ``jpeg``, ``pnm``, ``bmp``...
    path : Path or None
        Where it was read from, if it came from a file.
    """

    pixels: np.ndarray
    bit_depth: int = 8
    format: str = "png"
    path: Path | None = None

    @property
    def lossy(self) -> bool:
        """True when the file format loses information (JPEG, WebP)."""
        return self.format in LOSSY_FORMATS

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def size_text(self) -> str:
        """``"512x512"``: the size as ImageMagick writes it."""
        return f"{self.width}x{self.height}"

    def quantized(self) -> np.ndarray:
        """The pixels as the unsigned integers of this image's bit depth."""
        return quantize(self.pixels, self.bit_depth)


def to_float(array: np.ndarray) -> np.ndarray:
    """Convert an integer or float array to float32 H x W x C in [0, 1]."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3:
        raise ImageError(f"an image must have 2 or 3 dimensions, but got shape {array.shape}")
    if array.dtype in (np.uint8, np.uint16):
        pixels = array.astype(np.float32)
        pixels /= np.float32(np.iinfo(array.dtype).max)  # in place: a second fresh array costs its page faults
        return pixels
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(array, 0, 1).astype(np.float32, copy=False)
    if array.dtype == bool:
        return array.astype(np.float32)
    raise ImageError(f"unsupported pixel type {array.dtype}: use uint8, uint16 or float")


def quantize(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """Round float pixels in [0, 1] to unsigned integers of ``bit_depth`` bits."""
    maxval = (1 << bit_depth) - 1
    dtype = np.uint8 if bit_depth <= 8 else np.uint16
    return np.rint(np.clip(pixels, 0, 1) * maxval).astype(dtype)


def load_image(path: str | Path, *, max_pixels: int | None = MAX_PIXELS) -> Image:
    """Read an image file into an :class:`Image`.

    PNG and TIFF (8 and 16 bit), JPEG, PPM/PGM/PAM, BMP and anything else
    Pillow reads. JPEG EXIF orientation is applied. A file of more than
    ``max_pixels`` pixels (width x height; default :data:`MAX_PIXELS`) is
    refused before it is decoded; None lifts the limit.

    Examples
    --------
    >>> from filterfit.images import load_image
    >>> load_image("photo.png").pixels.shape  # doctest: +SKIP
    (512, 512, 3)
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"image not found: {path} (check the path)")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file")
    if is_raw(path):
        raise ImageError(
            f"{path} is a camera RAW file, which filterfit does not develop: fit a photo editor's sliders "
            "(--editor rawtherapee or darktable), which opens it as it is, or give a developed TIFF or PNG"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImageError(f"cannot read {path}: {error.strerror}") from None
    if not data:
        raise ImageError(f"{path} is empty (0 bytes): it is not an image")
    try:
        array, fmt, bit_depth = _decode_bytes(data, max_pixels)
        pixels = to_float(array)
    except ImageError as error:
        raise ImageError(f"{path}: {error}") from None
    return Image(pixels, bit_depth=bit_depth, format=fmt, path=path)


def is_raw(path: str | Path) -> bool:
    """True for a camera RAW file, by its suffix (a DNG is a TIFF inside: its bytes would mislead)."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def decode(data: bytes, *, max_pixels: int | None = None) -> Image:
    """Decode an image held in memory (what a program wrote to a pipe); no pixel limit unless given."""
    array, fmt, bit_depth = _decode_bytes(data, max_pixels)
    return Image(to_float(array), bit_depth=bit_depth, format=fmt)


def _decode_bytes(data: bytes, max_pixels: int | None) -> tuple[np.ndarray, str, int]:
    if _PNM_HEADER.match(data):
        array, maxval = decode_pnm(data, max_pixels=max_pixels)
        return array, "pnm", 8 if maxval < 256 else 16
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _decode_png(data, max_pixels)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _decode_tiff(data, max_pixels)
    return _decode_pillow(data, max_pixels)


def _check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    """Refuse an image of more than ``max_pixels`` pixels, before anything is allocated for it."""
    if max_pixels is not None and width * height > max_pixels:
        raise ImageError(
            f"{width}x{height} is {width * height:,} pixels, above the limit of {max_pixels:,} "
            f"(a decompression bomb?); if the image is real, raise the limit: --max-pixels {width * height} "
            "(max_pixels= from Python)"
        )


def _decode_png(data: bytes, max_pixels: int | None) -> tuple[np.ndarray, str, int]:
    import imagecodecs  # Pillow reduces 16-bit RGB to 8 bits; imagecodecs keeps them

    if data[12:16] == b"IHDR":  # the first chunk: width and height, big-endian
        _check_pixels(int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"), max_pixels)
    try:
        array = imagecodecs.png_decode(data)
    except Exception as error:  # imagecodecs raises its own error types
        raise ImageError(f"not a readable PNG ({error})") from None
    return _integer(array), "png", 16 if array.dtype == np.uint16 else 8


def _decode_tiff(data: bytes, max_pixels: int | None) -> tuple[np.ndarray, str, int]:
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            page = tiff.pages[0]
            _check_pixels(int(page.imagewidth), int(page.imagelength), max_pixels)
            array = tiff.asarray()
    except ImageError:
        raise
    except Exception as error:  # tifffile raises many error types
        raise ImageError(f"not a readable TIFF ({error})") from None
    if array.size == 0:  # tifffile logs a damaged file and returns an empty array
        raise ImageError("not a readable TIFF (no image data in it)")
    if array.ndim == 3 and array.shape[0] in (1, 2, 3, 4) and array.shape[2] > 4:
        array = np.moveaxis(array, 0, -1)  # planar TIFF
    return _integer(array), "tiff", 16 if array.dtype.itemsize > 1 else 8


def _decode_pillow(data: bytes, max_pixels: int | None) -> tuple[np.ndarray, str, int]:
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with _open_without_pillows_limit(data) as opened:
            _check_pixels(opened.size[0], opened.size[1], max_pixels)
            fmt = (opened.format or "unknown").lower()
            picture = ImageOps.exif_transpose(opened)
            picture.load()
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, PILImage.DecompressionBombError) as error:
        reason = "not an image file" if isinstance(error, UnidentifiedImageError) else str(error)
        raise ImageError(f"cannot read it as an image ({reason})") from None
    if picture.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(picture).astype(np.uint16), fmt, 16
    if picture.mode not in ("L", "LA", "RGB", "RGBA"):
        picture = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
    return np.asarray(picture), {"jpg": "jpeg"}.get(fmt, fmt), 8


def _open_without_pillows_limit(data: bytes) -> Any:
    """Pillow's lazy open (header only), with its own bomb limit lifted: ours (_check_pixels) applies instead.

    Pillow warns above 89 megapixels and refuses above 179, whatever --max-pixels says.
    """
    from PIL import Image as PILImage

    with _PILLOW_LIMIT:
        saved, PILImage.MAX_IMAGE_PIXELS = PILImage.MAX_IMAGE_PIXELS, None
        try:
            return PILImage.open(io.BytesIO(data))
        finally:
            PILImage.MAX_IMAGE_PIXELS = saved


def _integer(array: np.ndarray) -> np.ndarray:
    if array.dtype in (np.uint8, np.uint16) or np.issubdtype(array.dtype, np.floating):
        return array
    raise ImageError(f"unsupported sample type {array.dtype}")


def encode_pnm(pixels: np.ndarray, bit_depth: int = 8) -> bytes:
    """Encode float pixels as binary PGM/PPM (1 or 3 channels) or PAM (2 or 4).

    The uncompressed format ImageMagick and most image programs read from a
    pipe fastest. 16-bit samples are big-endian, as the format requires.
    """
    samples = quantize(pixels, bit_depth)
    height, width, channels = samples.shape
    maxval = (1 << bit_depth) - 1
    if channels in (1, 3):
        header = f"P{5 if channels == 1 else 6}\n{width} {height}\n{maxval}\n"
    else:
        tupltype = "GRAYSCALE_ALPHA" if channels == 2 else "RGB_ALPHA"
        header = f"P7\nWIDTH {width}\nHEIGHT {height}\nDEPTH {channels}\nMAXVAL {maxval}\nTUPLTYPE {tupltype}\nENDHDR\n"
    body = samples.astype(">u2") if bit_depth > 8 else samples
    return header.encode("ascii") + body.tobytes()


def decode_pnm(data: bytes, *, max_pixels: int | None = None) -> tuple[np.ndarray, int]:
    """Decode binary PGM (P5), PPM (P6) or PAM (P7) to (uint array H x W x C, maxval)."""
    magic = data[:2]
    if magic == b"P7":
        fields, offset = _pam_header(data)
        width, height = int(fields[b"WIDTH"]), int(fields[b"HEIGHT"])
        channels, maxval = int(fields[b"DEPTH"]), int(fields[b"MAXVAL"])
    elif magic in (b"P5", b"P6"):
        tokens, offset = _pnm_tokens(data, 3)
        width, height, maxval = tokens
        channels = 1 if magic == b"P5" else 3
    else:
        raise ImageError(f"not a binary PNM image (magic {magic!r})")
    if not 0 < maxval < 65536:
        raise ImageError(f"PNM maxval must be in 1..65535, but got {maxval}")
    _check_pixels(width, height, max_pixels)
    dtype = np.dtype("u1") if maxval < 256 else np.dtype(">u2")
    count = width * height * channels
    body = data[offset : offset + count * dtype.itemsize]
    if len(body) < count * dtype.itemsize:
        raise ImageError(f"truncated PNM image: {len(body)} of {count * dtype.itemsize} bytes")
    if count == 0 or channels > 4:
        raise ImageError(f"a PNM image needs pixels and 1-4 channels, but this one is {width}x{height}x{channels}")
    array = np.frombuffer(body, dtype=dtype).reshape(height, width, channels)
    if maxval not in (255, 65535):  # rescale odd depths to a full 8 or 16 bits
        full = 255 if maxval < 256 else 65535
        array = np.rint(array.astype(np.float64) * (full / maxval))
        return array.astype(np.uint8 if full == 255 else np.uint16), full
    return array.astype(np.uint8 if maxval < 256 else np.uint16), maxval


def _pnm_tokens(data: bytes, count: int) -> tuple[list[int], int]:
    tokens: list[int] = []
    position = 2
    while len(tokens) < count:
        match = re.compile(rb"(?:\s+|#[^\n]*\n)*(\d+)").match(data, position)
        if not match:
            raise ImageError("malformed PNM header")
        tokens.append(int(match.group(1)))
        position = match.end()
    return tokens, position + 1  # one whitespace byte ends the header


def _pam_header(data: bytes) -> tuple[dict[bytes, bytes], int]:
    end = data.find(b"ENDHDR\n")
    if end < 0:
        raise ImageError("malformed PAM header: no ENDHDR")
    fields: dict[bytes, bytes] = {}
    for line in data[3:end].splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and not parts[0].startswith(b"#"):
            fields[parts[0]] = parts[1].strip()
    for key in (b"WIDTH", b"HEIGHT", b"DEPTH", b"MAXVAL"):
        if key not in fields:
            raise ImageError(f"malformed PAM header: no {key.decode()}")
        if not fields[key].isdigit():
            raise ImageError(f"malformed PAM header: {key.decode()} is {fields[key][:20]!r}, not a number")
    return fields, end + len(b"ENDHDR\n")


def encode_png(pixels: np.ndarray, bit_depth: int = 8, *, level: int = 6) -> bytes:
    """Encode float pixels as a lossless PNG of 8 or 16 bits per sample."""
    import imagecodecs

    samples = quantize(pixels, bit_depth)
    if samples.shape[2] == 1:
        samples = samples[:, :, 0]
    return bytes(imagecodecs.png_encode(samples, level=level))


def save_image(pixels: np.ndarray, path: str | Path, *, bit_depth: int = 8, level: int = 6) -> Path:
    """Save float pixels losslessly: PNG (8 or 16 bit, zlib ``level``), TIFF, or PNM by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        samples = quantize(pixels, bit_depth)
        tifffile.imwrite(path, samples[:, :, 0] if samples.shape[2] == 1 else samples)
    elif suffix in (".ppm", ".pgm", ".pam", ".pnm"):
        path.write_bytes(encode_pnm(pixels, bit_depth))
    else:
        path.write_bytes(encode_png(pixels, bit_depth, level=level))
    return path


def match_channels(render: np.ndarray, channels: int) -> np.ndarray:
    """Reconcile a render's channels with the target's channel count.

    Grey is repeated to RGB; RGB becomes grey by its mean (exact for the grey
    images programs often write as RGB); missing alpha is opaque; extra alpha
    is dropped.
    """
    have = render.shape[2]
    if have == channels:
        return render
    colour, alpha = (render[:, :, :-1], render[:, :, -1:]) if have in (2, 4) else (render, None)
    want_colour = 1 if channels in (1, 2) else 3
    if colour.shape[2] != want_colour:
        if want_colour == 3:
            colour = np.repeat(colour, 3, axis=2)
        else:
            colour = colour.mean(axis=2, keepdims=True)
    if channels in (2, 4):
        if alpha is None:
            alpha = np.ones(colour.shape[:2] + (1,), dtype=np.float32)
        return np.concatenate([colour, alpha], axis=2)
    return colour
