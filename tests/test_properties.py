"""Properties that hold for every input, not just the examples: the --param grammar, the command
template formatter and the PPM/PAM codec (hypothesis), and a fuzz run of the image loader on
mutated real files.

Hypothesis runs derandomized with a bounded number of examples and no example database, so the
suite is reproducible and takes a few seconds; the fuzz run is seeded for the same reasons.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filterfit.errors import ImageError, ParamError, TemplateError
from filterfit.filters import CommandFilter
from filterfit.filters.command import format_value
from filterfit.images import decode, decode_pnm, encode_pnm, load_image, save_image, to_float
from filterfit.space import Param, Space, parse_param

PROPERTY = settings(
    derandomize=True, max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# --- the --param grammar ---------------------------------------------------------------------------

names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,11}\Z")
magnitudes = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@st.composite
def numeric_specs(draw: st.DrawFn) -> tuple[str, float, float]:
    """A valid numeric --param: name=LOW:HIGH with any legal combination of int, log and step."""
    kind = draw(st.sampled_from(["float", "int", "log", "step", "int_step"]))
    if kind in ("int", "int_step"):
        low, high = sorted(draw(st.integers(-10_000, 10_000)) for _ in range(2))
    elif kind == "log":
        low, high = sorted(draw(st.floats(min_value=1e-6, max_value=1e6)) for _ in range(2))
    else:
        low, high = sorted((draw(magnitudes), draw(magnitudes)))
    text = f"{draw(names)}={number_text(low)}:{number_text(high)}"
    if kind in ("int", "int_step"):
        text += ":int"
    if kind == "log":
        text += ":log"
    if kind in ("step", "int_step"):
        step = draw(st.integers(1, 50)) if kind == "int_step" else draw(st.floats(min_value=1e-3, max_value=1e3))
        text += f":step={number_text(step)}"
    return text, low, high


@PROPERTY
@given(numeric_specs(), st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=5))
def test_a_valid_numeric_spec_parses_round_trips_and_stays_in_range(spec, units):
    text, low, high = spec
    param = parse_param(text)
    assert (param.name, param.low, param.high) == (text.split("=")[0], low, high)
    again = parse_param(param.spec)
    assert again.spec == param.spec and again.distribution() == param.distribution()
    for unit in units:
        value = param.from_unit(unit)
        assert low <= value <= high
        assert 0 <= param.to_unit(value) <= 1 or low == high
        assert param.snap(value) == value  # a legal value is its own nearest legal value
        if param.kind == "int":
            assert isinstance(value, int)


choice_words = st.text(
    alphabet=st.characters(blacklist_characters=",:", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=12,
)


@PROPERTY
@given(names, st.lists(choice_words, min_size=2, max_size=6, unique=True))
def test_a_choice_spec_parses_to_its_words_or_says_they_collide(name, words):
    try:
        param = parse_param(f"{name}={','.join(words)}")
    except ParamError as error:  # "1" and "01" are both the number 1
        assert "choices must be distinct" in str(error)
        return
    assert param.kind == "choice" and len(param.choices) == len(words)
    for choice, word in zip(param.choices, words):  # a word that reads as a number is that number
        if isinstance(choice, str):
            assert choice == word
        else:
            assert choice == float(word) or (math.isnan(choice) and math.isnan(float(word)))
    assert parse_param(param.spec).spec == param.spec


def pieces(*parts: str, max_size: int = 12) -> st.SearchStrategy[str]:
    """Texts glued from these pieces: junk that is close to the grammar, so it reaches deep into the parser."""
    return st.lists(st.sampled_from(parts), max_size=max_size).map("".join)


grammar_junk = pieces(*"ab_1-0.5e:=,; \t", "step=", "int", "log", "nan", "inf", "1e999", "=0:1")


@PROPERTY
@given(st.one_of(st.text(max_size=40), grammar_junk))
def test_any_text_parses_or_raises_a_param_error(text):
    try:
        param = parse_param(text)
    except ParamError:
        return
    assert isinstance(param, Param)


@PROPERTY
@given(st.lists(st.one_of(st.text(max_size=20), grammar_junk), max_size=4))
def test_any_list_of_texts_is_a_space_or_a_param_error(texts):
    try:
        space = Space.parse(texts)
    except ParamError:
        return
    assert len(space) == len(texts)


# --- the command template formatter ----------------------------------------------------------------

# Anything a Python caller may pass: quotes, braces, newlines, NUL, lone surrogates.
values = st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans())


@PROPERTY
@given(st.text())
def test_format_value_gives_any_text_back_unchanged(value):
    assert format_value(value) == value


@PROPERTY
@given(values, values)
def test_each_value_is_exactly_one_argument(first, second):
    command = CommandFilter("prog {input} --a={a} {a} '{b} and {{b}}' {b}x{a} {output}")
    argv = command.argv({"a": first, "b": second}, "in file.png", "-out.png")
    a, b = format_value(first), format_value(second)
    assert argv == ["prog", "in file.png", f"--a={a}", a, f"{b} and {{b}}", f"{b}x{a}", "-out.png"]


template_text = pieces(*"{}!:.'\" \\ab_0123456789rsx%-fd>", "{input}", "{output}", "{a}", "{b:.2f}", max_size=20)


@PROPERTY
@given(st.one_of(st.text(max_size=40), template_text), values)
def test_any_template_parses_or_raises_a_template_error(template, value):
    try:
        command = CommandFilter(template)
    except TemplateError:
        return
    names = set(command.placeholders())
    try:
        argv = command.argv(dict.fromkeys(names, value), "in.png", "out.png")
    except TemplateError:  # a format spec that does not fit this value
        return
    assert len(argv) == len(command.words) and all(isinstance(word, str) for word in argv)


# --- the PPM/PAM codec -----------------------------------------------------------------------------


@st.composite
def sample_arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = draw(st.sampled_from([np.uint8, np.uint16]))
    shape = (draw(st.integers(1, 13)), draw(st.integers(1, 13)), draw(st.integers(1, 4)))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


@PROPERTY
@given(sample_arrays())
def test_pnm_encode_then_decode_gives_the_samples_back(samples):
    bit_depth = 8 * samples.itemsize
    data = encode_pnm(to_float(samples), bit_depth)
    decoded, maxval = decode_pnm(data)
    assert maxval == (1 << bit_depth) - 1
    assert decoded.dtype == samples.dtype and np.array_equal(decoded, samples)
    image = decode(data)
    assert (image.format, image.bit_depth, image.pixels.shape) == ("pnm", bit_depth, samples.shape)


# --- fuzzing the image loader ----------------------------------------------------------------------

FUZZ_CASES_PER_FILE = 300
CASE_TIMEOUT_S = 10.0  # one mutated file; a real decode of these takes milliseconds


def seed_files(folder: Path) -> dict[str, bytes]:
    """Small real files in each format the loader reads: the ones filterfit writes, and Pillow's."""
    from PIL import Image as PILImage

    rng = np.random.default_rng(7)
    pixels = rng.uniform(0, 1, (9, 11, 3)).astype(np.float32)
    alpha = np.concatenate([pixels, pixels[:, :, :1]], axis=2)
    files = {
        "png8": save_image(pixels, folder / "a.png"),
        "png16": save_image(pixels, folder / "b.png", bit_depth=16),
        "tiff": save_image(pixels, folder / "c.tif"),
        "ppm": save_image(pixels, folder / "d.ppm"),
        "pam16": save_image(alpha, folder / "e.pam", bit_depth=16),
    }
    samples = np.rint(pixels * 255).astype(np.uint8)
    for kind, options in {"jpeg": {"format": "JPEG", "quality": 90}, "bmp": {"format": "BMP"}}.items():
        buffer = io.BytesIO()
        PILImage.fromarray(samples).save(buffer, **options)
        files[kind] = folder / f"f.{kind}"
        files[kind].write_bytes(buffer.getvalue())
    return {kind: path.read_bytes() for kind, path in files.items()}


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Flip bytes, truncate, insert or overwrite a header field: what damaged files look like."""
    data = bytearray(data)
    how = rng.choice(["flip", "flip", "header", "truncate", "insert", "digits"])
    if how in ("flip", "header"):
        end = min(len(data), 64) if how == "header" else len(data)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(end)] = rng.randrange(256)
    elif how == "truncate":
        data = data[: rng.randrange(1, len(data))]
    elif how == "insert":
        at = rng.randrange(len(data))
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:  # a number in a text header made large, negative or not a number
        text = rng.choice([b"99999", b"0", b"-3", b"x", b"65536", b"4294967297"])
        at = rng.randrange(min(len(data), 40))
        data[at : at + rng.randint(0, 3)] = text
    return bytes(data)


def load_or_error(path: str) -> str:
    """Run in a child process: 'image', or 'clean: ...' for an ImageError; anything else escapes."""
    import warnings

    from PIL.Image import DecompressionBombWarning

    warnings.simplefilter("error")  # as the test suite runs: a warning would reach the user as noise
    # except Pillow's own warning for files claiming 89-179 megapixels: filterfit's pixel limit is the rule there
    warnings.simplefilter("ignore", DecompressionBombWarning)
    try:
        image = load_image(path)
    except ImageError as error:
        return f"clean: {error}"
    assert image.pixels.ndim == 3 and image.pixels.size > 0, f"an empty image loaded from {path}"
    assert np.isfinite(image.pixels).all()
    return "image"


@pytest.mark.slow
def test_mutated_files_load_or_raise_the_clean_error(tmp_path):
    originals = seed_files(tmp_path)
    rng = random.Random(20261126)
    outcomes: dict[str, int] = {}
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        for kind, data in originals.items():
            for number in range(FUZZ_CASES_PER_FILE):
                path = tmp_path / f"{kind}-{number}.bin"
                path.write_bytes(mutate(data, rng))
                try:
                    outcome = pool.submit(load_or_error, str(path)).result(timeout=CASE_TIMEOUT_S)
                except FutureTimeout:
                    pytest.fail(f"loading {path} hung for more than {CASE_TIMEOUT_S} s")
                except Exception as error:  # the child raised something else than ImageError
                    pytest.fail(f"loading {path} raised {type(error).__name__}: {error}")
                outcomes[outcome.split(":")[0]] = outcomes.get(outcome.split(":")[0], 0) + 1
                path.unlink()
    assert sum(outcomes.values()) == FUZZ_CASES_PER_FILE * len(originals)
    assert outcomes.get("clean", 0) > 500 and outcomes.get("image", 0) > 100  # both paths were exercised
