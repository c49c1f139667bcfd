"""The catalogue of bad inputs: each one through the real command line, with the message it gets.

Every case runs ``filterfit`` (click's CliRunner; a missing database driver, a ``filterfit`` process
whose interpreter cannot import it) and checks the contract for a user's mistake:
exit code 2, one line ``error: <problem>: <fix>`` on stderr, nothing on stdout, no traceback.
click's parsing errors (an option that is not a number, a choice that is not offered) keep
click's words, which name the option and the valid values, on the same one line.

Every file is made here, in a temporary folder: a few 8x8 images, broken files, and decompression
bombs (PNG, BMP and PPM files of a few kilobytes that claim hundreds of megapixels). Nothing runs
a program: each mistake is caught before the first evaluation, so the whole file takes seconds.
Cases already covered elsewhere (tests/test_cli.py, test_apply.py, test_export.py) are not repeated.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from filterfit.cli import cli
from filterfit.images import MAX_PIXELS, load_image, save_image
from filterfit.result import FitResult

pytestmark = pytest.mark.requires("convert")  # the checks that a template's program is installed

GAMMA = "convert {input} -gamma {g} {output}"


# --- the files ---------------------------------------------------------------------------------


def png_bomb(path: Path, side: int) -> Path:
    """A valid 1-bit PNG of side x side blank pixels, a few kilobytes on disk.

    Rows of zeros compress about 1000:1, so the file is tiny while a decoder asks for
    side^2 samples (16384^2: 268 million, a gigabyte as float32).
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    row = bytes(1 + (side + 7) // 8)  # filter byte 0, then the row's bits
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, grey, no interlace
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def bmp_bomb(path: Path, side: int) -> Path:
    """A BMP header that claims side x side pixels (Pillow reads BMP; its own limit would raise)."""
    from PIL import Image as PILImage

    PILImage.fromarray(np.zeros((2, 2, 3), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    data[18:26] = struct.pack("<ii", side, side)  # BITMAPINFOHEADER width and height
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good and bad files, by what they are."""
    folder = tmp_path_factory.mktemp("bad")
    pixels = np.random.default_rng(0).uniform(0, 1, (8, 8, 3)).astype(np.float32)
    source = save_image(pixels, folder / "source.png")
    made = {
        "source": source,
        "target": save_image(pixels * 0.9, folder / "target.png"),
        "wide": save_image(np.zeros((10, 12, 3), np.float32), folder / "wide.png"),
        "grey": save_image(pixels[:, :, :1], folder / "grey.png"),
        "sixteen": save_image(pixels * 0.9, folder / "sixteen.png", bit_depth=16),
        "rgba": save_image(np.concatenate([pixels, pixels[:, :, :1]], axis=2), folder / "rgba.png"),
        "truncated": folder / "truncated.png",
        "zero": folder / "zero.png",
        "text": folder / "notes.png",
        "folder": folder / "a-folder.png",
        "png_bomb": png_bomb(folder / "bomb.png", 16384),
        "bmp_bomb": bmp_bomb(folder / "bomb.bmp", 20000),
        "ppm_bomb": folder / "bomb.ppm",
        "int32_tiff": folder / "int32.tif",
        "a_file": folder / "a-file",
        "photos": folder / "photos",
    }
    made["truncated"].write_bytes(source.read_bytes()[:60])
    made["zero"].write_bytes(b"")
    made["text"].write_text("this is not a picture\n")
    made["folder"].mkdir()
    made["ppm_bomb"].write_bytes(b"P6\n20000 20000\n255\n" + bytes(64))  # a header, then next to nothing
    made["a_file"].write_text("not a folder\n")
    import tifffile

    tifffile.imwrite(made["int32_tiff"], np.zeros((8, 8), np.int32))
    made["photos"].mkdir()
    made["photo"] = save_image(pixels, made["photos"] / "photo.png")
    made["result"] = FitResult(
        best_params={"g": 1.2}, best_error=0.0, metric="rmse", evaluations=1, failed=0, elapsed_s=0.1,
        strategy="auto", workers=1, budget=1, seed=0, filter=GAMMA, space=["g=0.5:2"],
    ).save(folder / "result.json")  # fmt: skip
    return made


def invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def fit(files: dict[str, Path], *extra: object, target: str = "target", command: str = GAMMA) -> Result:
    params = [] if any(str(arg).startswith("--param") for arg in extra) else ["--param", "g=0.5:2"]
    args = ["fit", files["source"], files[target], "--command", command, *params, "--budget", 2, "--workers", 1]
    return invoke(*args, *extra)


def assert_refused(result: Result | subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 2, one line on stderr holding the message, stdout empty, no traceback."""
    if isinstance(result, Result):
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit), result.exception
    else:
        assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    assert message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr


# --- images --------------------------------------------------------------------------------------

IMAGES = [
    ("missing", lambda f: f["source"].parent / "missing.png", "image not found: {path} (check the path)"),
    ("missing, named like markup", lambda f: f["source"].parent / "[/b].png", "image not found: {path} (check"),
    ("a folder", lambda f: f["folder"], "{path} is a folder, not an image file"),
    ("zero bytes", lambda f: f["zero"], "{path} is empty (0 bytes): it is not an image"),
    ("text named .png", lambda f: f["text"], "{path}: cannot read it as an image (not an image file)"),
    ("truncated PNG", lambda f: f["truncated"], "{path}: not a readable PNG ("),
    ("int32 TIFF", lambda f: f["int32_tiff"], "{path}: unsupported sample type int32"),
    ("size mismatch", lambda f: f["wide"], "is 8x8 but target {path} is 12x10: give a target of the same size"),
    ("PNG bomb", lambda f: f["png_bomb"], "{path}: 16384x16384 is 268,435,456 pixels, above the limit of 150,000,000"),
    ("BMP bomb", lambda f: f["bmp_bomb"], "{path}: 20000x20000 is 400,000,000 pixels, above the limit of 150,000,000"),
    ("PPM bomb", lambda f: f["ppm_bomb"], "{path}: 20000x20000 is 400,000,000 pixels, above the limit of 150,000,000"),
]


@pytest.mark.parametrize("make, message", [case[1:] for case in IMAGES], ids=[case[0] for case in IMAGES])
def test_a_bad_target_image(files, make, message):
    path = make(files)
    result = invoke("fit", files["source"], path, "--command", GAMMA, "--param", "g=0.5:2")
    assert_refused(result, message.format(path=path))


def test_a_missing_source(files, tmp_path):  # moved here from test_cli.py, as were the text and size cases
    result = invoke("fit", tmp_path / "nope.png", files["target"], "--command", GAMMA, "--param", "g=0.5:2")
    assert_refused(result, f"image not found: {tmp_path / 'nope.png'} (check the path)")


def test_the_bomb_refusal_says_how_to_raise_the_limit(files):
    result = fit(files, target="png_bomb")
    assert_refused(result, "(a decompression bomb?); if the image is real, raise the limit: --max-pixels 268435456")
    assert files["png_bomb"].stat().st_size < 100_000  # the fixture is tiny; the refusal came before decoding


def test_the_pixel_limit_is_an_option_and_a_library_argument(files):
    assert_refused(fit(files, "--max-pixels", 63), "source.png: 8x8 is 64 pixels, above the limit of 63")
    assert fit(files, "--max-pixels", 64, "--quiet").exit_code == 0  # raised to the images' size: accepted
    assert load_image(files["source"], max_pixels=64).size_text == "8x8"
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"more than {MAX_PIXELS // 1_000_000} million pixels" in readme and "`--max-pixels N`" in readme


def test_an_unreadable_image(files, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file whatever its mode (the folder case covers an unreadable path)")
    locked = tmp_path / "locked.png"
    locked.write_bytes(files["target"].read_bytes())
    locked.chmod(0)
    result = invoke("fit", files["source"], locked, "--command", GAMMA, "--param", "g=0.5:2")
    assert_refused(result, f"cannot read {locked}: Permission denied")


def test_a_bad_image_in_a_second_pair(files):
    result = invoke("fit", "--look", "exposure", "--pair", files["source"], files["target"],
                    "--pair", files["source"], files["wide"])  # fmt: skip
    assert_refused(result, f"but target {files['wide']} is 12x10: give a target of the same size")


@pytest.mark.parametrize("kind", ["grey", "sixteen", "rgba"])
def test_other_channels_and_bit_depths_are_reconciled_not_refused(files, kind):
    """Not mistakes: a grey, 16-bit or RGBA target for an 8-bit RGB source is fitted (channels are matched)."""
    result = fit(files, "--quiet", "--strategy", "random", target=kind)
    assert result.exit_code == 0, result.output


# --- --param -------------------------------------------------------------------------------------

PARAMS = [
    ("empty LOW", "g=:2", "--param g: LOW must be a number, but got ''"),
    ("no range", "g=", "--param must look like name=LOW:HIGH[:int|:log|:step=S] or name=a,b,c, but got 'g='"),
    ("no name", "=1:2", "--param must look like name=LOW:HIGH[:int|:log|:step=S] or name=a,b,c, but got '=1:2'"),
    ("not finite", "g=nan:1", "--param g: LOW must be finite, but got 'nan'"),
    ("infinite", "g=1:inf", "--param g: HIGH must be finite, but got 'inf'"),
    ("unknown kind", "g=1:2:float", "--param g: unknown modifier 'float'; valid ones are int, log, step=S"),
    ("log from 0", "g=0:1:log", "parameter g: a log scale needs `low > 0`, but got low=0.0"),
    ("zero step", "g=1:2:step=0", "parameter g: `step > 0` must hold, but got step=0.0"),
    ("negative step", "g=1:2:step=-1", "parameter g: `step > 0` must hold, but got step=-1.0"),
    ("step not a number", "g=1:2:step=x", "--param g: step must be a number, but got 'x'"),
    ("log and step", "g=1:2:log:step=1", "parameter g: log and step cannot be combined"),
    ("repeated choice", "g=a,a", "parameter g: choices must be distinct, but got ['a', 'a']"),
    ("int of fractions", "g=1.5:2.5:int", "an int parameter needs integer bounds, but got (low=1.5, high=2.5)"),
    ("bad name", "2g=1:2", "parameter name must be letters, digits and _ (not starting with a digit), but got '2g'"),
]


@pytest.mark.parametrize("spec, message", [case[1:] for case in PARAMS], ids=[case[0] for case in PARAMS])
def test_a_malformed_param(files, spec, message):
    assert_refused(fit(files, "--param", spec), message)


def test_a_param_given_twice(files):
    result = fit(files, "--param", "g=0:1", "--param", "g=1:2")
    assert_refused(result, "each parameter must be given once, but got g twice")


# --- --command -----------------------------------------------------------------------------------

COMMANDS = [
    ("empty", "", "the command is empty: give a template like 'convert {input} -blur {radius}x{sigma} {output}'"),
    ("no {input}", "convert -gamma {g} {output}", "the command has no {input} placeholder: write it where"),
    ("stray }", "convert {input} -gamma {g} {output} }", "the command word '}' has unbalanced braces"),
    ("positional {0}", "convert {input} -gamma {g} {0} {output}", "placeholder {0} in '{0}' is not a parameter name"),
    ("attribute {g.real}", "convert {input} -gamma {g.real} {output}", "placeholder {g.real} in '{g.real}' is not"),
    ("spec unknown", "convert {input} -gamma {g:zz} {output}", "the format spec :zz does not fit the value 0.5"),
    ("not a program", "./no/such/tool {input} {g} {output}", "command './no/such/tool' is not installed or not on"),
]


@pytest.mark.parametrize("command, message", [case[1:] for case in COMMANDS], ids=[case[0] for case in COMMANDS])
def test_a_bad_command(files, command, message):
    assert_refused(fit(files, command=command), message)


def test_a_command_without_params(files):
    result = invoke("fit", files["source"], files["target"], "--command", GAMMA)
    assert_refused(result, "--command needs its parameters: --param name=LOW:HIGH, once per {name} in the template")


# --- numbers and choices -------------------------------------------------------------------------

NUMBERS = [
    ("negative budget", ["--budget", -5], "budget must be an integer >= 1 evaluation, but got -5"),
    ("negative workers", ["--workers", -1], "workers must be an integer >= 1, but got -1"),
    ("negative timeout", ["--timeout", -1], "timeout must be > 0 seconds, but got -1.0"),
    ("negative border", ["--border", -1], "border must be >= 0 pixels, but got -1"),
    ("negative seed", ["--seed", -1], "seed must be an integer from 0 to 4294967295, but got -1"),
    ("seed too large", ["--seed", 2**32], "seed must be an integer from 0 to 4294967295, but got 4294967296"),
    ("stop-below nan", ["--stop-below", "nan"], "--stop-below (stop_below=) must be a finite number, but got nan"),
    ("stop-below inf", ["--stop-below", "inf"], "--stop-below (stop_below=) must be a finite number, but got inf"),
]


@pytest.mark.parametrize("options, message", [case[1:] for case in NUMBERS], ids=[case[0] for case in NUMBERS])
def test_a_bad_number(files, options, message):
    assert_refused(fit(files, *options), message)


CLICK_OPTIONS = [
    ("unknown metric", ["--metric", "sharpness"], "Invalid value for '--metric': 'sharpness' is not one of 'rmse'"),
    ("budget not a number", ["--budget", "lots"], "Invalid value for '--budget': 'lots' is not a valid integer"),
    ("negative probes", ["--probes", -1], "Invalid value for '--probes': -1 is not in the range x>=0"),
    ("zero max pixels", ["--max-pixels", 0], "Invalid value for '--max-pixels': 0 is not in the range x>=1"),
]


CLICK_OPTIONS += [
    ("a misspelt option", ["--max-pixel", 9], "No such option '--max-pixel'. Did you mean '--max-pixels'? (see"),
]


@pytest.mark.parametrize("options, message", [case[1:] for case in CLICK_OPTIONS], ids=[c[0] for c in CLICK_OPTIONS])
def test_a_value_click_refuses(files, options, message):
    assert_refused(fit(files, *options), message)


# --- looks, references and pairs -----------------------------------------------------------------

LOOKS = [
    ("unknown adjustment", ["{source}", "{target}", "--look", "exposre"],
     "unknown look adjustment 'exposre'; valid ones are blur, sharpen, multiply_gradient"),
    ("no adjustment", ["{source}", "{target}", "--look", ","], "a look needs at least one adjustment; valid ones are"),
    ("look and command", ["{source}", "{target}", "--look", "--command", GAMMA, "--param", "g=0:1"],
     "give either --command or --look, not both"),
    ("a param the look lacks", ["{source}", "{target}", "--look", "exposure", "--param", "radius=0:1"],
     "the look has no parameter radius; its parameters are exposure"),
    ("reference without a look", ["{source}", "--reference", "{target}"],
     "give --command TEMPLATE with --param, or --look to fit filterfit's own look"),
    ("reference and target", ["{source}", "{target}", "--reference", "{target}", "--look"],
     "--reference replaces TARGET: give SOURCE --reference PHOTO without TARGET or --pair"),
    ("reference without source", ["--look", "--reference", "{target}"],
     "--reference needs the SOURCE photo to give the look to"),
    ("no images", ["--look"], "give SOURCE TARGET, --pair BEFORE AFTER (repeatable) or SOURCE --reference PHOTO"),
    ("source alone", ["{source}", "--look"], "give a TARGET after SOURCE, a --reference photo, or pairs with --pair"),
]  # fmt: skip


@pytest.mark.parametrize("args, message", [case[1:] for case in LOOKS], ids=[case[0] for case in LOOKS])
def test_a_bad_look_or_pairing(files, args, message):
    named = [str(files[arg[1:-1]]) if arg[1:-1] in files else arg for arg in args]  # "{source}": the file
    assert_refused(invoke("fit", *named), message)


def test_a_pair_of_three_images(files):  # the third is taken for SOURCE
    result = invoke("fit", "--look", "--pair", files["source"], files["target"], files["source"])
    assert_refused(result, "give a TARGET after SOURCE, a --reference photo, or pairs with --pair BEFORE AFTER")


def test_a_pair_of_one_image(files):
    result = invoke("fit", "--look", "--pair", files["source"])
    assert_refused(result, "Option '--pair' requires 2 arguments")


# --- shared studies ------------------------------------------------------------------------------

STUDIES = [
    ("status of nothing", ["status", "--storage", "{tmp}/nowhere"],
     "no study storage at {tmp}/nowhere: give a postgresql:// or sqlite:/// URL, a study.journal file or a --out"),
    ("status of a plain file", ["status", "--storage", "{a_file}"],
     "the storage holds no study: start one with filterfit fit ... --out DIR (or --storage URL)"),
    ("worker for an empty folder", ["worker", "--storage", "{tmp}"], "no study storage at {tmp}: give a postgresql://"),
    ("worker of no known kind", ["worker", "--storage", "mystery://host/db"],
     "cannot open the study storage 'mystery://host/db': "),
    ("a password in a URL", ["worker", "--storage", "mystery://filterfit:secret@host/db"],
     "cannot open the study storage 'mystery://filterfit:***@host/db': Can't load plugin: sqlalchemy.dialects:mystery"),
    ("a server that is not there", ["status", "--storage", "postgresql://filterfit:secret@127.0.0.1:1/filterfit"],
     "cannot open the study storage 'postgresql://filterfit:***@127.0.0.1:1/filterfit': "),  # port 1: refused
]  # fmt: skip


@pytest.mark.parametrize("args, message", [case[1:] for case in STUDIES], ids=[case[0] for case in STUDIES])
def test_a_bad_study_storage(files, tmp_path, args, message):
    names = {**files, "tmp": tmp_path}
    result = invoke(*(arg.format(**names) for arg in args))
    assert_refused(result, message.format(**names))
    assert "secret" not in result.stderr  # a URL's password stays out of messages


# The interpreter of these runs cannot import the database drivers: None in sys.modules makes
# ``import psycopg`` raise ImportError, as it does where the package is not installed.
WITHOUT_DRIVERS = (
    "import sys; sys.modules.update(dict.fromkeys(['psycopg', 'psycopg2', 'MySQLdb', 'pymysql'])); "
    "sys.argv[0] = 'filterfit'; from filterfit.cli import main; main()"
)
README_URL = "postgresql://filterfit:PASSWORD@dbhost/filterfit"  # README: "Several machines through PostgreSQL"
THE_EXTRA = "the PostgreSQL driver is not installed: pip install 'filterfit[postgres]'"
COMMANDS = {"fit": ["fit", "{source}", "{target}", "--command", GAMMA, "--param", "g=0.5:2"]}  # the others: the name
DRIVERS = [
    ("fit", "fit", README_URL, THE_EXTRA),
    ("worker", "worker", README_URL, THE_EXTRA),
    ("status", "status", README_URL, THE_EXTRA),
    ("libpq's postgres://", "status", "postgres://filterfit:PASSWORD@dbhost/filterfit", THE_EXTRA),
    ("psycopg2 by name", "status", "postgresql+psycopg2://filterfit@dbhost/filterfit",
     "the PostgreSQL driver is not installed: pip install psycopg2-binary"),
    ("mysql", "status", "mysql://filterfit:PASSWORD@dbhost/filterfit",
     "the MySQL driver is not installed: pip install mysqlclient, or pip install PyMySQL and write mysql+pymysql://"),
    ("PyMySQL by name", "status", "mysql+pymysql://filterfit:PASSWORD@dbhost/filterfit",
     "the MySQL driver is not installed: pip install PyMySQL"),
]  # fmt: skip


@pytest.mark.parametrize("command, url, message", [case[1:] for case in DRIVERS], ids=[case[0] for case in DRIVERS])
def test_a_storage_whose_driver_is_not_installed(files, command, url, message):
    args = [str(files[arg[1:-1]]) if arg[1:-1] in files else arg for arg in COMMANDS.get(command, [command])]
    run = [sys.executable, "-c", WITHOUT_DRIVERS, *args, "--storage", url, "--study", "rose"]
    result = subprocess.run(run, capture_output=True, text=True, timeout=120)
    shown = url.replace(":PASSWORD@", ":***@")
    assert_refused(result, f"error: cannot open the study storage '{shown}': {message}\n")
    assert "PASSWORD" not in result.stderr


# --- output folders ------------------------------------------------------------------------------


def test_out_inside_a_file(files):
    out = files["a_file"] / "out"
    assert_refused(
        fit(files, "--out", out), f"cannot write to the output folder {out}: Not a directory; choose another --out"
    )


def test_out_that_cannot_be_written(files, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere a mode forbids; /proc takes no new folders from anyone
        out = Path("/proc/filterfit-out")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        out = locked / "out"
    assert_refused(fit(files, "--out", out), f"cannot write to the output folder {out}: ")
    assert not out.exists()


def test_apply_out_that_is_a_file(files):
    result = invoke("apply", files["result"], files["photo"], "--out", files["a_file"])
    assert_refused(result, f"--out {files['a_file']} is a file, not a folder: choose another path")
    assert files["a_file"].read_text() == "not a folder\n"


def test_apply_over_its_inputs_through_a_link(files, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(files["photos"])
    result = invoke("apply", files["result"], files["photo"], "--out", link)
    assert_refused(result, f"--out {link} is the folder of {files['photo']}: its output would overwrite it")


def test_apply_without_photos(files, tmp_path):
    result = invoke("apply", files["result"], "--out", tmp_path / "out")
    assert_refused(result, "Missing argument 'PHOTO...'")


def test_an_unknown_command():
    assert_refused(invoke("fitt"), "No such command 'fitt'. Did you mean 'fit'? (see")


def test_apply_refuses_a_bomb_and_goes_on(files, tmp_path):
    """Not exit 2: apply reports each photo it could not do on one line and exits 1 (see test_apply.py)."""
    result = invoke("apply", files["result"], files["png_bomb"], files["photo"], "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        f"error: {files['png_bomb']}: 16384x16384 is 268,435,456 pixels, above the limit of 150,000,000 "
        "(a decompression bomb?); if the image is real, raise the limit: --max-pixels 268435456 "
        "(max_pixels= from Python)"
    ]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["photo.png"]
    small = invoke("apply", files["result"], files["photo"], "--out", tmp_path / "small", "--max-pixels", 63)
    assert small.exit_code == 1 and "8x8 is 64 pixels, above the limit of 63" in small.stderr


def test_apply_with_zero_workers(files, tmp_path):
    result = invoke("apply", files["result"], files["photo"], "--out", tmp_path / "out", "--workers", 0)
    assert_refused(result, "Invalid value for '--workers': 0 is not in the range x>=1")


EXPORTS = [
    (
        "hald in a missing folder",
        ["--hald", "{tmp}/nowhere/hald.png"],
        "cannot write {tmp}/nowhere/hald.png: No such file or directory; create the folder {tmp}/nowhere first",
    ),
    ("cube onto a folder", ["--cube", "{tmp}"], "cannot write {tmp}: Is a directory; choose another file name"),
    ("grey check photo", ["--cube", "{tmp}/a.cube", "--check", "{grey}"], "--check {grey} has 1 channels: give an RGB"),
    ("RGBA check photo", ["--cube", "{tmp}/a.cube", "--check", "{rgba}"], "--check {rgba} has 4 channels: give an RGB"),
    ("text check photo", ["--cube", "{tmp}/a.cube", "--check", "{text}"], "{text}: cannot read it as an image"),
    ("bomb check photo", ["--cube", "{tmp}/a.cube", "--check", "{png_bomb}"], "{png_bomb}: 16384x16384 is 268,435,456"),
]


@pytest.mark.parametrize("args, message", [case[1:] for case in EXPORTS], ids=[case[0] for case in EXPORTS])
def test_a_bad_export(files, tmp_path, args, message):
    names = {**files, "tmp": tmp_path}
    result = invoke("export", files["result"], *(arg.format(**names) for arg in args))
    assert_refused(result, message.format(**names))


# --- result.json for apply, export and report ----------------------------------------------------


def good_result(files: dict[str, Path]) -> dict:
    return json.loads(files["result"].read_text(encoding="utf-8"))


RESULTS = [
    ("missing", None, "result file not found: {path} (check the path)"),
    ("empty", b"", "{path} is not a filterfit result.json (the file is empty)"),
    ("not JSON", b"best_params: 1", "{path} is not a filterfit result.json (not JSON: Expecting value"),
    ("not text", b"\x89PNG\r\n\x1a\n\xff\x00", "{path} is not a filterfit result.json (it is not UTF-8 text)"),
    ("a JSON list", b"[]", "{path} is not a filterfit result.json (a JSON object is expected, but got a list)"),
    ("JSON null", b"null", "(a JSON object is expected, but got null)"),
    ("fields missing", {"drop": ["metric", "space"]}, "(it has no metric, space)"),
    ("params not an object", {"set": {"best_params": [1.2]}}, "(best_params must be an object, but got [1.2])"),
    ("error not a number", {"set": {"best_error": "low"}}, '(best_error must be a number or null, but got "low")'),
    ("space a string", {"set": {"space": "g=0.5:2"}}, '(space must be a list, but got "g=0.5:2")'),
    ("space of numbers", {"set": {"space": [1]}}, "(space must be a list of --param strings, but got [1])"),
    ("space entry malformed", {"set": {"space": ["g"]}}, "(its space entry 'g' is malformed: --param must look like"),
    ("filter not a string", {"set": {"filter": 3}}, "(filter must be a string, but got 3)"),
    ("best value not a number", {"set": {"best_params": {"g": "1.2"}}},
     '(the best value of g (g=0.5:2) must be a number, but got "1.2")'),
    ("interval of one number", {"set": {"uncertainty": {"g": [1.2]}}},
     '(uncertainty must be an object of [low, high] pairs, but got {"g": [1.2]})'),
    ("flags of numbers", {"set": {"flags": {"g": [1]}}},
     '(flags must be an object of lists of strings, but got {"g": [1]})'),
    ("sources of numbers", {"set": {"sources": [1]}}, "(sources must be a list of paths or nulls, but got [1])"),
    ("look not an object", {"set": {"look": [1]}}, "(look must be an object or null, but got [1])"),
    ("history of numbers", {"set": {"history": [1]}}, "(an entry of history must be an object, but got 1)"),
    ("history incomplete", {"set": {"history": [{"number": 0}]}}, "(an entry of history has no params, error, state)"),
    ("history error text", {"set": {"history": [{"number": 0, "params": {}, "error": "x", "state": "complete"}]}},
     '(an entry of history has error "x", which is not a number or null)'),
    ("a newer field", {"set": {"colour_space": "p3"}}, "(unknown fields colour_space: written by a newer filterfit?"),
]  # fmt: skip


def write_result(files: dict[str, Path], folder: Path, content: object) -> Path:
    path = folder / "result.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        data = {k: v for k, v in good_result(files).items() if k not in content.get("drop", [])}
        path.write_text(json.dumps({**data, **content.get("set", {})}), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["apply", "export", "report"])
@pytest.mark.parametrize("content, message", [case[1:] for case in RESULTS], ids=[case[0] for case in RESULTS])
def test_a_bad_result_json(files, tmp_path, command, content, message):
    folder = tmp_path / "fitted"
    folder.mkdir()
    path = write_result(files, folder, content)
    if command == "apply":
        result = invoke("apply", path, files["photo"], "--out", tmp_path / "out")
    elif command == "export":
        result = invoke("export", path, "--command")
    else:
        result = invoke("report", folder)
        if content is None:
            message = "no result.json in {folder}: give a folder written by `filterfit fit ... --out DIR`"
    assert_refused(result, message.replace("{path}", str(path)).replace("{folder}", str(folder)))
    assert not (tmp_path / "out").exists()


def test_a_result_path_that_is_a_folder(files, tmp_path):
    result = invoke("export", tmp_path, "--command")
    assert_refused(result, f"cannot read {tmp_path}: Is a directory")
