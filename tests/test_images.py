from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from filterfit.errors import ImageError
from filterfit.images import (
    Image,
    decode,
    decode_pnm,
    encode_png,
    encode_pnm,
    load_image,
    match_channels,
    quantize,
    save_image,
    to_float,
)

H, W = 48, 64


def with_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """The RGB fixture as 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) channels."""
    grey = pixels.mean(axis=2, keepdims=True)
    alpha = pixels[:, :, 2:3][:, ::-1]  # an alpha unlike every colour channel
    return {1: grey, 2: np.concatenate([grey, alpha], 2), 3: pixels, 4: np.concatenate([pixels, alpha], 2)}[channels]


def exact(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """What a lossless file of this depth holds, back as float32."""
    return to_float(quantize(pixels, bit_depth))


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix, fmt", [(".png", "png"), (".tif", "tiff"), (".ppm", "pnm"), (".pam", "pnm")])
@pytest.mark.parametrize("bit_depth", [8, 16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_save_load_round_trip_is_exact_after_quantisation(tmp_path, pixels, suffix, fmt, bit_depth, channels):
    original = with_channels(pixels, channels)
    path = save_image(original, tmp_path / f"image{suffix}", bit_depth=bit_depth)
    loaded = load_image(path)
    assert (loaded.format, loaded.bit_depth, loaded.path) == (fmt, bit_depth, path)
    assert loaded.pixels.shape == (H, W, channels)
    assert loaded.pixels.dtype == np.float32
    assert np.array_equal(loaded.quantized(), quantize(original, bit_depth))
    assert np.array_equal(loaded.pixels, exact(original, bit_depth))
    # 16 bits keep what 8 bits lose: the fixture has values between 8-bit levels
    assert np.abs(loaded.pixels - original).max() <= 0.5 / ((1 << bit_depth) - 1) + 1e-7


@pytest.mark.parametrize(
    "kind, fmt, bit_depth, channels, lossy",
    [
        ("png8", "png", 8, 3, False),
        ("png16", "png", 16, 3, False),
        ("tiff8", "tiff", 8, 3, False),
        ("tiff16", "tiff", 16, 3, False),
        ("ppm", "pnm", 8, 3, False),
        ("bmp", "bmp", 8, 3, False),
        ("jpeg", "jpeg", 8, 3, True),
        ("grey", "png", 8, 1, False),
        ("rgba", "png", 8, 4, False),
    ],
)
def test_every_fixture_format_loads(image_files, kind, fmt, bit_depth, channels, lossy):
    image = load_image(image_files[kind])
    assert (image.format, image.bit_depth, image.channels, image.lossy) == (fmt, bit_depth, channels, lossy)
    assert (image.height, image.width, image.size_text) == (H, W, "64x48")


def test_bmp_is_exact_8_bit(image_files, pixels):
    assert np.array_equal(load_image(image_files["bmp"]).pixels, exact(pixels, 8))


def test_jpeg_is_what_pillow_decodes_and_near_the_original(image_files, pixels):
    image = load_image(image_files["jpeg"])
    with PILImage.open(image_files["jpeg"]) as opened:
        decoded = np.asarray(opened)
    assert np.array_equal(image.quantized(), decoded)
    # lossy: the one-pixel checkerboard suffers from 4:2:0 chroma subsampling (0.043 measured)
    assert 0.01 < np.abs(image.pixels - pixels).mean() < 0.06


def test_jpeg_exif_orientation_is_applied(tmp_path):
    samples = np.zeros((H, W, 3), dtype=np.uint8)
    samples[:8, :8] = 255  # a white top-left corner
    picture = PILImage.fromarray(samples)
    exif = picture.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    picture.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    image = load_image(tmp_path / "rotated.jpg")
    assert image.pixels.shape == (W, H, 3)
    assert image.pixels[:8, -8:].mean() > 0.95  # the corner went to the top right
    assert image.pixels[:8, :8].mean() < 0.05


def test_decode_from_memory_has_no_path(pixels):
    image = decode(encode_png(pixels, 16))
    assert (image.format, image.bit_depth, image.path) == ("png", 16, None)
    assert np.array_equal(image.pixels, exact(pixels, 16))


def test_encode_png_compression_level_changes_size_not_pixels(pixels):
    fast, small = encode_png(pixels, level=0), encode_png(pixels, level=9)
    assert len(fast) > len(small)
    assert np.array_equal(decode(fast).pixels, decode(small).pixels)


def test_tiff_grey_is_written_two_dimensional(tmp_path, grey_pixels):
    import tifffile

    path = save_image(grey_pixels, tmp_path / "grey.tiff", bit_depth=16)
    stored = tifffile.imread(path)
    assert (stored.shape, stored.dtype) == ((H, W), np.uint16)


@pytest.mark.requires("convert")
@pytest.mark.parametrize("depth, coder", [(8, "ppm"), (16, "ppm"), (8, "pam"), (16, "pgm")])
def test_decode_pnm_reads_what_imagemagick_writes(photo, depth, coder):
    data = subprocess.run(
        ["convert", str(photo), "-depth", str(depth), f"{coder}:-"], capture_output=True, check=True
    ).stdout
    image = decode(data)
    reference = load_image(photo).pixels
    if coder == "pgm":  # ImageMagick's grey is a weighted luma: it lies between the darkest and brightest channel
        assert image.pixels.shape == (128, 128, 1)
        assert (image.pixels[:, :, 0] >= reference.min(axis=2) - 1e-4).all()
        assert (image.pixels[:, :, 0] <= reference.max(axis=2) + 1e-4).all()
    else:
        assert np.array_equal(image.pixels, exact(reference, depth))
    assert (image.format, image.bit_depth) == ("pnm", depth)


# --- PNM / PAM ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channels, header",
    [
        (1, "P5\n64 48\n{maxval}\n"),
        (2, "P7\nWIDTH 64\nHEIGHT 48\nDEPTH 2\nMAXVAL {maxval}\nTUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n"),
        (3, "P6\n64 48\n{maxval}\n"),
        (4, "P7\nWIDTH 64\nHEIGHT 48\nDEPTH 4\nMAXVAL {maxval}\nTUPLTYPE RGB_ALPHA\nENDHDR\n"),
    ],
)
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_pnm_encode_decode_round_trip(pixels, channels, header, bit_depth):
    original = with_channels(pixels, channels)
    maxval = (1 << bit_depth) - 1
    data = encode_pnm(original, bit_depth)
    expected_header = header.format(maxval=maxval).encode()
    assert data[: len(expected_header)] == expected_header
    assert len(data) == len(expected_header) + H * W * channels * bit_depth // 8
    array, decoded_maxval = decode_pnm(data)
    assert decoded_maxval == maxval
    assert array.dtype == (np.uint8 if bit_depth == 8 else np.uint16)
    assert np.array_equal(array, quantize(original, bit_depth))


def test_pnm_16_bit_samples_are_big_endian():
    data = encode_pnm(np.full((1, 1, 1), 258 / 65535, dtype=np.float32), 16)
    assert data == b"P5\n1 1\n65535\n\x01\x02"


def test_pnm_header_comments_are_skipped():
    data = b"P6\n# written by hand\n2 1\n# a second comment\n255\n" + bytes([255, 0, 0, 0, 128, 255])
    array, maxval = decode_pnm(data)
    assert maxval == 255
    assert array.tolist() == [[[255, 0, 0], [0, 128, 255]]]


def test_pam_header_comments_are_skipped():
    data = b"P7\n# made by a test\nWIDTH 1\nHEIGHT 1\nDEPTH 2\nMAXVAL 255\n#TUPLTYPE none\nENDHDR\n\x10\x20"
    array, maxval = decode_pnm(data)
    assert (array.tolist(), maxval) == ([[[16, 32]]], 255)


@pytest.mark.parametrize(
    "header, samples, dtype, expected, full",
    [
        (b"P5\n3 1\n15\n", b"\x00\x07\x0f", "u1", [0, 119, 255], 255),  # 4-bit: x17
        (b"P5\n2 1\n1023\n", b"\x00\x01\x03\xff", ">u2", [64, 65535], 65535),  # 10-bit: x64.06
    ],
)
def test_pnm_odd_maxval_is_rescaled_to_full_depth(header, samples, dtype, expected, full):
    array, maxval = decode_pnm(header + samples)
    assert maxval == full
    assert array[0, :, 0].tolist() == expected


@pytest.mark.parametrize(
    "data, message",
    [
        (b"P6\n2 2\n255\n" + bytes(11), r"truncated PNM image: 11 of 12 bytes"),
        (b"P5\n2 2\n65535\n" + bytes(7), r"truncated PNM image: 7 of 8 bytes"),
        (b"P5\n1 1\n0\n\x00", r"PNM maxval must be in 1\.\.65535, but got 0"),
        (b"P5\n1 1\n70000\n\x00\x00", r"PNM maxval must be in 1\.\.65535, but got 70000"),
        (b"P3\n1 1\n255\n0 0 0\n", r"not a binary PNM image \(magic b'P3'\)"),
        (b"P6\nwide high\n", r"malformed PNM header"),
        (b"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n\x00", r"malformed PAM header: no ENDHDR"),
        (b"P7\nWIDTH 1\nHEIGHT 1\nMAXVAL 255\nENDHDR\n\x00", r"malformed PAM header: no DEPTH"),
    ],
)
def test_decode_pnm_errors(data, message):
    with pytest.raises(ImageError, match=message):
        decode_pnm(data)


def test_truncated_pnm_file_names_the_file(tmp_path, pixels):
    path = tmp_path / "cut.ppm"
    path.write_bytes(encode_pnm(pixels)[:-10])
    with pytest.raises(ImageError, match=r"cut\.ppm: truncated PNM image: 9206 of 9216 bytes"):
        load_image(path)


# --- alpha and channels ------------------------------------------------------------------------


def test_alpha_is_kept_as_the_last_channel(image_files, pixels, alpha):
    image = load_image(image_files["rgba"])
    assert image.channels == 4
    assert np.array_equal(image.pixels[:, :, 3:], exact(alpha, 8))
    assert np.array_equal(image.pixels[:, :, :3], exact(pixels, 8))  # not premultiplied


def test_palette_png_transparency_becomes_alpha(tmp_path):
    picture = PILImage.fromarray(np.array([[0, 1], [1, 0]], dtype=np.uint8), mode="P")
    picture.putpalette([255, 0, 0, 0, 0, 255])
    picture.save(tmp_path / "palette.png", transparency=0)
    image = load_image(tmp_path / "palette.png")
    assert image.pixels.shape == (2, 2, 4)
    assert image.quantized()[0, 0].tolist() == [255, 0, 0, 0]
    assert image.quantized()[0, 1].tolist() == [0, 0, 255, 255]


def test_grey_gif_is_read_by_pillow_as_rgb(tmp_path):
    ramp = np.arange(0, 256, 4, dtype=np.uint8).reshape(8, 8)
    PILImage.fromarray(ramp).save(tmp_path / "ramp.gif")
    image = load_image(tmp_path / "ramp.gif")
    assert (image.format, image.channels) == ("gif", 3)
    assert np.array_equal(image.quantized()[:, :, 1], ramp)


GREY = np.array([[[0.2]]], dtype=np.float32)
RGB = np.array([[[0.1, 0.2, 0.6]]], dtype=np.float32)


@pytest.mark.parametrize(
    "render, channels, expected",
    [
        (GREY, 3, [0.2, 0.2, 0.2]),  # grey repeated
        (GREY, 2, [0.2, 1.0]),  # opaque alpha added
        (GREY, 4, [0.2, 0.2, 0.2, 1.0]),
        (RGB, 1, [0.3]),  # the mean of the colours
        (RGB, 2, [0.3, 1.0]),
        (RGB, 4, [0.1, 0.2, 0.6, 1.0]),
        (np.array([[[0.1, 0.2, 0.6, 0.5]]], dtype=np.float32), 3, [0.1, 0.2, 0.6]),  # alpha dropped
        (np.array([[[0.1, 0.2, 0.6, 0.5]]], dtype=np.float32), 1, [0.3]),
        (np.array([[[0.1, 0.2, 0.6, 0.5]]], dtype=np.float32), 2, [0.3, 0.5]),  # alpha kept
        (np.array([[[0.2, 0.5]]], dtype=np.float32), 4, [0.2, 0.2, 0.2, 0.5]),
        (np.array([[[0.2, 0.5]]], dtype=np.float32), 1, [0.2]),
        (np.array([[[0.2, 0.5]]], dtype=np.float32), 3, [0.2, 0.2, 0.2]),
    ],
)
def test_match_channels(render, channels, expected):
    matched = match_channels(render, channels)
    assert matched.shape == (1, 1, channels)
    assert matched.dtype == np.float32
    assert matched[0, 0].tolist() == pytest.approx(expected, abs=1e-7)


def test_match_channels_returns_the_same_array_when_nothing_changes(pixels):
    assert match_channels(pixels, 3) is pixels


# --- conversion --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.array([[0, 51, 255]], dtype=np.uint8), [0.0, 0.2, 1.0]),
        (np.array([[0, 13107, 65535]], dtype=np.uint16), [0.0, 0.2, 1.0]),
        (np.array([[-0.5, 0.25, 1.5]]), [0.0, 0.25, 1.0]),  # float64 clipped
        (np.array([[False, True, True]]), [0.0, 1.0, 1.0]),
    ],
)
def test_to_float(array, expected):
    result = to_float(array)
    assert (result.shape, result.dtype) == ((1, 3, 1), np.float32)
    assert result.ravel().tolist() == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((2, 2, 3, 1), dtype=np.uint8), r"an image must have 2 or 3 dimensions, but got shape \(2, 2, 3, 1\)"),
        (np.zeros(5, dtype=np.uint8), r"but got shape \(5,\)"),
        (np.zeros((2, 2), dtype=np.int32), r"unsupported pixel type int32: use uint8, uint16 or float"),
    ],
)
def test_to_float_errors(array, message):
    with pytest.raises(ImageError, match=message):
        to_float(array)


def test_quantize_rounds_and_clips():
    values = np.array([[[-0.1, 0.5, 0.2, 1.2]]], dtype=np.float32)
    assert quantize(values, 8).tolist() == [[[0, 128, 51, 255]]]  # 127.5 rounds to even 128
    assert quantize(values, 16).dtype == np.uint16
    assert quantize(values, 16).tolist() == [[[0, 32768, 13107, 65535]]]


def test_image_quantized_uses_its_own_depth(pixels):
    image = Image(pixels, bit_depth=16, format="tiff")
    assert image.quantized().dtype == np.uint16
    assert not image.lossy
    assert Image(pixels, format="webp").lossy


# --- errors ------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match=r"image not found: .*nothing\.png \(check the path\)"):
        load_image(tmp_path / "nothing.png")


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.png is empty \(0 bytes\): it is not an image"):
        load_image(tmp_path / "empty.png")


def test_text_file_named_png(tmp_path):
    (tmp_path / "notes.png").write_text("hello, I am not a picture\n")
    with pytest.raises(ImageError, match=r"notes\.png: cannot read it as an image \(not an image file\)"):
        load_image(tmp_path / "notes.png")


def test_folder(tmp_path):
    with pytest.raises(ImageError, match=r"is a folder, not an image file"):
        load_image(tmp_path)


def test_errors_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="image not found"):
        load_image(tmp_path / "nothing.png")


def test_truncated_png(tmp_path, image_files):
    cut = tmp_path / "cut.png"
    cut.write_bytes(image_files["png8"].read_bytes()[:200])
    with pytest.raises(ImageError, match=r"cut\.png: not a readable PNG \("):
        load_image(cut)


def test_truncated_jpeg(tmp_path, image_files):
    data = image_files["jpeg"].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut\.jpg: cannot read it as an image \(.*[Tt]runcated"):
        load_image(cut)


def test_damaged_tiff(tmp_path):
    path = tmp_path / "damaged.tif"
    path.write_bytes(b"II*\x00" + b"garbage" * 4)
    with pytest.raises(ImageError, match=r"damaged\.tif: not a readable TIFF"):
        load_image(path)


def test_tiff_of_unsupported_sample_type(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "int32.tif", np.zeros((4, 5), dtype=np.int32))
    with pytest.raises(ImageError, match=r"int32\.tif: unsupported sample type int32"):
        load_image(tmp_path / "int32.tif")


def test_multi_page_tiff_error_names_the_file(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "pages.tif", np.zeros((2, 4, 5, 3), dtype=np.uint8))
    with pytest.raises(ImageError, match=r"pages\.tif: an image must have 2 or 3 dimensions"):
        load_image(tmp_path / "pages.tif")


def test_save_image_returns_the_path_as_path(tmp_path, pixels):
    path = save_image(pixels, str(tmp_path / "out.png"))
    assert isinstance(path, Path) and path.read_bytes().startswith(b"\x89PNG")
