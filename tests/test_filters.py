from __future__ import annotations

import os
import pickle
import shlex
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import alive

from filterfit.errors import CommandNotFoundError, EvaluationError, ParamError, TemplateError
from filterfit.filters import CommandFilter, Filter, FunctionFilter, as_filter
from filterfit.filters import command as command_module
from filterfit.filters.command import format_value
from filterfit.images import Image, load_image, match_channels, quantize, save_image, to_float
from filterfit.metrics import get_metric, rmse
from filterfit.problem import Problem
from filterfit.space import Space, as_space

BLUR = "convert {input} -blur {radius}x{sigma} {output}"
BLUR_SPACE = Space.parse(["radius=0:10", "sigma=0.1:5"])


def prepared(template: str, target: Image, *, timeout: float = 30.0, single_thread: bool = False) -> CommandFilter:
    return CommandFilter(template, timeout=timeout).prepare([], target, single_thread=single_thread)


def failure(template: str, image: Image, params: dict | None = None, **kwargs) -> str:
    """The reason a render fails (the test fails if it does not)."""
    with pytest.raises(EvaluationError) as caught:
        prepared(template, image, **kwargs).render(image, params or {})
    return str(caught.value)


@pytest.fixture
def image(pixels) -> Image:
    return Image(pixels, format="png")


# --- format_value and argv ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, spec, text",
    [
        (27.0, "", "27"),
        (20.5, "", "20.5"),
        (1e-5, "", "0.00001"),  # not every program parses exponents
        (1e20, "", "100000000000000000000"),
        (0.1 + 0.2, "", "0.30000000000000004"),  # exact: what the optimiser asked for
        (np.float64(2.5), "", "2.5"),
        (3, "", "3"),
        ("Gaussian", "", "Gaussian"),
        (1.23456, ".2f", "1.23"),
        (7, "03d", "007"),
        (0.5, "%", "50.000000%"),
    ],
)
def test_format_value(value, spec, text):
    assert format_value(value, spec) == text


def test_argv_formats_each_word():
    f = CommandFilter("convert {input} -blur {radius}x{sigma:.2f} -fill 'dark red' -level {low}%,{{high}} {output}")
    argv = f.argv({"radius": 27.0, "sigma": 1.5, "low": 3}, "in.png", "out.png")
    assert argv == ["convert", "in.png", "-blur", "27x1.50", "-fill", "dark red", "-level", "3%,{high}", "out.png"]


def test_values_are_never_interpreted_by_a_shell():
    f = CommandFilter("prog {input} --mode={mode} {output}")
    argv = f.argv({"mode": "a; rm -rf ~ $(id)"}, "in file.png", "out.png")
    assert argv == ["prog", "in file.png", "--mode=a; rm -rf ~ $(id)", "out.png"]


def test_placeholders_in_order():
    assert CommandFilter(BLUR).placeholders() == ["input", "radius", "sigma", "output"]
    repeated = CommandFilter("gmic {input} -blur {s} -sharpen {s} -o {output}")
    assert repeated.placeholders() == ["input", "s", "s", "output"]


@pytest.mark.parametrize(
    "template, uses_pipes",
    [
        (BLUR, True),
        ("/usr/bin/convert {input} -negate {output}", True),
        ("magick {input} -negate {output}", True),
        ("gm convert {input} -blur {radius}x{sigma} {output}", True),
        ("gmic {input} -blur {sigma} -o {output}", False),
        ("convert {input}[0] -negate {output}", False),  # {input} is not a whole word: files
        ("convert {input} -negate png24:{output}", False),
    ],
)
def test_uses_pipes(template, uses_pipes):
    assert CommandFilter(template).uses_pipes is uses_pipes


@pytest.mark.parametrize(
    "template, fmt, channels, argv",
    [
        (BLUR, "png", 3, ["convert", "ppm:-", "-blur", "2x1", "-define", "png:compression-level=0", "png:-"]),
        (BLUR, "png", 1, ["convert", "pgm:-", "-blur", "2x1", "-define", "png:compression-level=0", "png:-"]),
        (BLUR, "png", 4, ["convert", "pam:-", "-blur", "2x1", "-define", "png:compression-level=0", "png:-"]),
        (BLUR, "png", 2, ["convert", "pam:-", "-blur", "2x1", "-define", "png:compression-level=0", "png:-"]),
        (BLUR, "tiff", 3, ["convert", "ppm:-", "-blur", "2x1", "-compress", "none", "tiff:-"]),
        (BLUR, "pnm", 3, ["convert", "ppm:-", "-blur", "2x1", "pam:-"]),
        (BLUR, "bmp", 3, ["convert", "ppm:-", "-blur", "2x1", "bmp:-"]),
        ("gm " + BLUR, "png", 3, ["gm", "convert", "ppm:-", "-blur", "2x1", "-quality", "1", "png:-"]),
        ("gm " + BLUR, "tiff", 1, ["gm", "convert", "pgm:-", "-blur", "2x1", "-compress", "none", "tiff:-"]),
        ("gm " + BLUR, "pnm", 4, ["gm", "convert", "pam:-", "-blur", "2x1", "pam:-"]),
    ],
)
def test_pipe_argv_by_target_format(template, fmt, channels, argv, monkeypatch):
    monkeypatch.setattr(command_module, "_png_is_16_bit_cut", lambda program: False)  # the plain PNG route
    target = Image(np.zeros((2, 2, channels), dtype=np.float32), format=fmt)
    f = CommandFilter(template).prepare([], target, single_thread=False)
    assert f.pipe_argv({"radius": 2.0, "sigma": 1}, channels) == argv


@pytest.mark.parametrize(
    "fmt, output_format",
    [
        ("png", "png"),
        ("tiff", "tiff"),
        ("pnm", "pnm"),
        ("bmp", "bmp"),
        ("jpeg", "png"),
        ("webp", "png"),
        ("gif", "png"),
    ],
)
def test_prepare_writes_the_target_format_never_a_lossy_one(fmt, output_format):
    f = CommandFilter(BLUR)
    ready = f.prepare([], Image(np.zeros((2, 2, 3), dtype=np.float32), format=fmt), single_thread=True)
    assert (ready.output_format, ready.single_thread) == (output_format, True)
    assert (f.output_format, f.single_thread) == ("png", False)  # the original is unchanged
    assert ready.words == f.words


def test_command_filter_pickles_for_worker_processes():
    f = CommandFilter(BLUR, timeout=5.0)
    restored = pickle.loads(pickle.dumps(f))
    assert restored == f
    assert restored.argv({"radius": 1, "sigma": 2}, "a", "b") == ["convert", "a", "-blur", "1x2", "b"]


# --- template errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template, message",
    [
        ("", r"the command is empty: give a template like 'convert \{input\}"),
        ("   ", r"the command is empty"),
        (
            "convert {input} -annotate 'hello {output}",
            r"cannot split the command .*No closing quotation.*\(check the quotes\)",
        ),
        (
            "convert -blur 1x2 {output}",
            r"the command has no \{input\} placeholder: write it where the program takes its input",
        ),
        ("convert {input} -blur 1x2", r"the command has no \{output\} placeholder"),
        (
            "convert {input} -blur {radius {output}",
            r"the command word '\{radius' has unbalanced braces .*write \{\{ and \}\}",
        ),
        ("convert {input} -blur radius}x1 {output}", r"the command word 'radius\}x1' has unbalanced braces"),
        ("convert {input} -blur {}x1 {output}", r"placeholder \{\} in '\{\}x1' is not a parameter name"),
        ("convert {input} -blur {0} {output}", r"placeholder \{0\} in '\{0\}' is not a parameter name"),
        ("convert {input} -blur {a.b} {output}", r"placeholder \{a\.b\} in '\{a\.b\}' is not a parameter name"),
    ],
)
def test_template_errors(template, message):
    with pytest.raises(TemplateError, match=message):
        CommandFilter(template)


@pytest.mark.requires("convert")
def test_check_accepts_a_matching_space():
    assert CommandFilter(BLUR).check(BLUR_SPACE) is None


def test_check_unknown_placeholder():
    with pytest.raises(
        TemplateError,
        match=r"the command uses \{sigma\} but no --param sigma=\.\.\. defines it "
        r"\(parameters: radius; add --param sigma=LOW:HIGH\)",
    ):
        CommandFilter(BLUR).check(Space.parse(["radius=0:10"]))


def test_check_unused_parameter():
    with pytest.raises(
        TemplateError, match=r"parameter gain is not used in the command: add \{gain\} where it belongs"
    ):
        CommandFilter(BLUR).check(Space.parse(["radius=0:10", "sigma=0.1:5", "gain=0:2"]))


@pytest.mark.parametrize(
    "program, hint",
    [
        ("convert", r"install ImageMagick: apt-get install imagemagick"),
        ("/opt/im/bin/convert", r"install ImageMagick: apt-get install imagemagick"),
        ("gm convert", r"install GraphicsMagick: apt-get install graphicsmagick"),
        ("gmic", r"install G'MIC: apt-get install gmic"),
        ("no-such-filter-program", r"install it or give its full path"),
    ],
)
def test_check_program_not_installed(program, hint, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: nothing is installed
    name = program.split()[0]
    with pytest.raises(CommandNotFoundError, match=rf"command '{name}' is not installed or not on PATH: {hint}"):
        CommandFilter(f"{program} {{input}} -blur {{radius}}x{{sigma}} {{output}}").check(BLUR_SPACE)


def test_command_not_found_is_a_file_not_found_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="apt-get install imagemagick"):
        CommandFilter(BLUR).check(BLUR_SPACE)


# --- real renders through pipes ----------------------------------------------------------------

SUFFIX = {
    "png8": ".png",
    "png16": ".png",
    "tiff8": ".tif",
    "tiff16": ".tif",
    "grey": ".png",
    "rgba": ".png",
    "ppm": ".ppm",
    "bmp": ".bmp",
}


def render_matches_the_program(program: str, source: Path, target: Path, params: dict) -> None:
    """The pipe render of `source` equals the program run directly on the files, sample for sample."""
    subprocess.run([*program.split(), str(source), "-blur", "2x1", str(target)], check=True, capture_output=True)
    expected = load_image(target)
    f = prepared(f"{program} {{input}} -blur {{radius}}x{{sigma}} {{output}}", expected)
    assert f.uses_pipes
    render = match_channels(f.render(load_image(source), params), expected.channels)  # gm's BMP adds opaque alpha
    assert render.dtype == np.float32
    assert rmse(expected.pixels, render) == 0.0
    assert np.array_equal(render, expected.pixels)


@pytest.mark.requires("convert")
@pytest.mark.parametrize("kind", sorted(SUFFIX))
def test_imagemagick_pipes_equal_running_it_on_the_file(kind, image_files, tmp_path):
    render_matches_the_program(
        "convert", image_files[kind], tmp_path / f"direct{SUFFIX[kind]}", {"radius": 2.0, "sigma": 1.0}
    )


@pytest.mark.requires("gm")
@pytest.mark.parametrize("kind", sorted(SUFFIX))
def test_graphicsmagick_pipes_equal_running_it_on_the_file(kind, image_files, tmp_path):
    render_matches_the_program(
        "gm convert", image_files[kind], tmp_path / f"direct{SUFFIX[kind]}", {"radius": 2, "sigma": 1}
    )


@pytest.mark.parametrize(
    "program",
    [
        pytest.param("convert", marks=pytest.mark.requires("convert")),
        pytest.param("gm convert", marks=pytest.mark.requires("gm")),
    ],
)
@pytest.mark.parametrize("bit_depth, suffix", [(8, ".png"), (16, ".png"), (8, ".tif"), (16, ".tif")])
def test_pipes_equal_the_program_on_the_photo(program, bit_depth, suffix, photo, tmp_path):
    from filterfit.images import save_image

    source = save_image(load_image(photo).pixels, tmp_path / f"source{suffix}", bit_depth=bit_depth)
    render_matches_the_program(program, source, tmp_path / f"direct{suffix}", {"radius": 2.0, "sigma": 1.0})
    assert load_image(tmp_path / f"direct{suffix}").bit_depth == bit_depth


@pytest.mark.requires("convert")
@pytest.mark.parametrize(
    "operations",
    [
        "-blur 27x20",
        "-modulate 112.7,83.4,93.1 -sigmoidal-contrast 6.3x41.7% -gamma 1.62",
        "-unsharp 0x3+1.5+0.02",
        "-resize 61%",
    ],
)
def test_an_8_bit_rgb_png_target_is_rendered_as_16_bit_ppm_cut_to_its_very_pixels(operations, photo, tmp_path):
    target_path = tmp_path / "target.png"
    subprocess.run(["convert", str(photo), *operations.split(), str(target_path)], check=True)
    target, source = load_image(target_path), load_image(photo)
    f = prepared(f"convert {{input}} {operations} {{output}}", target)
    assert f.png_as_16_bit
    assert f.pipe_argv({}, 3)[-3:] == ["-depth", "16", "ppm:-"]
    render = f.render(source, {})
    assert np.array_equal(render, target.pixels)
    assert np.array_equal(render, replace(f, png_as_16_bit=False).render(source, {}))


RGB_PNG = Image(np.zeros((2, 2, 3), dtype=np.float32), format="png")


@pytest.mark.parametrize(
    "template, target",
    [
        (BLUR, replace(RGB_PNG, bit_depth=16)),
        (BLUR, Image(np.zeros((2, 2, 1), dtype=np.float32), format="png")),
        (BLUR, replace(RGB_PNG, format="tiff")),
        ("convert {input} -blur {radius}x{sigma} -depth 8 {output}", RGB_PNG),
        ("gm " + BLUR, RGB_PNG),
        ("my-filter --in {input} --out {output} {radius} {sigma}", RGB_PNG),
    ],
    ids=["16-bit", "grey", "tiff", "depth-given", "graphicsmagick", "not-a-pipe-program"],
)
def test_png_stays_png_where_16_bit_ppm_might_hold_other_pixels(template, target):
    assert not prepared(template, target).png_as_16_bit


@pytest.mark.requires("convert")
def test_a_program_whose_16_bit_ppm_is_not_its_png_cut_writes_png(tmp_path):
    """The check runs the program: a build that quantises otherwise (here: shifts its PPM) is caught."""
    wrapper = tmp_path / "convert"
    wrapper.write_text(
        "#!/usr/bin/env python3\nimport os, sys\nargs = sys.argv[1:]\n"
        "if args[-1] == 'ppm:-':\n    args[-1:] = ['-evaluate', 'add', '0.3%', 'ppm:-']\n"
        "os.execvp('convert', ['convert', *args])\n"
    )
    wrapper.chmod(0o755)
    assert not command_module._png_is_16_bit_cut(str(wrapper))
    assert not command_module._png_is_16_bit_cut(str(tmp_path / "missing"))
    assert command_module._png_is_16_bit_cut("convert")


@pytest.mark.requires("convert")
def test_pipe_input_cache_is_not_fooled_by_a_reused_id(pixels):
    """Sources are encoded once per image; a freed image's id must not hand its bytes to the next one."""
    copy = prepared("convert {input} {output}", Image(pixels))
    first = Image(pixels[::-1].copy())
    copy.render(first, {})
    freed = id(first)
    del first
    for _ in range(1000):  # CPython hands a freed slot to the next object of the same size
        second = Image(pixels)
        if id(second) == freed:
            break
    assert np.array_equal(copy.render(second, {}), to_float(quantize(pixels, 8)))


# --- real renders through files ----------------------------------------------------------------


@pytest.mark.requires("gmic")
def test_gmic_through_files_in_ram_leaves_nothing_behind(photo, tmp_path, monkeypatch):
    direct = tmp_path / "direct.png"
    subprocess.run(["gmic", str(photo), "-blur", "1.5", "-o", str(direct)], check=True, capture_output=True)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    source = load_image(photo)
    f = prepared("gmic {input} -blur {sigma} -o {output}", source)
    assert not f.uses_pipes
    render = f.render(source, {"sigma": 1.5})
    assert np.array_equal(render, load_image(direct).pixels)
    assert os.listdir(workdir) == []
    scratch = command_module._scratch_folder()
    if Path("/dev/shm").is_dir():
        assert scratch.parent == Path("/dev/shm")
    assert not list(scratch.glob("out-*"))  # the output file is removed after reading
    # the user's very file (other tests' inputs may still be there until their images are collected)
    assert photo.read_bytes() in [p.read_bytes() for p in scratch.glob("in-*.png")]


@pytest.mark.requires("convert")
@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="the scratch folders go to /dev/shm where there is one")
def test_every_process_removes_its_scratch_folder_when_it_ends(pixels, tmp_path):
    """The main process and the evaluator's worker processes (which end with os._exit, skipping atexit)."""
    import sys

    source = tmp_path / "source.png"
    save_image(pixels, source)
    target = tmp_path / "target.png"
    subprocess.run(["convert", str(source), "-evaluate", "multiply", "1.2", str(target)], check=True)
    before = set(Path("/dev/shm").glob("filterfit-*"))
    argv = [sys.executable, "-m", "filterfit", "fit", str(source), str(target), "--workers", "2", "--quiet"]
    argv += ["--command", "convert {input} -evaluate multiply {gain} {output}", "--param", "gain=0.5:2"]
    done = subprocess.run([*argv, "--strategy", "random", "--budget", "6"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert set(Path("/dev/shm").glob("filterfit-*")) - before == set()


def test_array_sources_are_saved_at_their_depth_for_file_programs(pixels, tmp_path):
    source = Image(pixels, bit_depth=16)  # no path: written to the scratch folder as 16-bit PNG
    f = prepared('sh -c \'cp "$0" "$1"\' {input} {output}', source)
    assert np.array_equal(f.render(source, {}), to_float(quantize(pixels, 16)))


# --- failures become EvaluationError with a reason ---------------------------------------------


@pytest.mark.requires("convert")
def test_non_zero_exit_reason_has_the_stderr_excerpt(image):
    reason = failure("convert {input} -blur {radius}x1 -no-such-option {output}", image, {"radius": 2})
    assert reason.startswith("exit code 1: ")
    assert "unrecognized option `-no-such-option'" in reason


def test_non_zero_exit_keeps_the_end_of_a_long_stderr(image):
    reason = failure("sh -c 'yes noise | head -c 3000 >&2; echo the-real-cause >&2; exit 3' {input} {output}", image)
    assert reason.startswith("exit code 3: ...")
    assert reason.endswith("the-real-cause")
    assert len(reason) == len("exit code 3: ...") + 300


def test_non_zero_exit_without_stderr(image):
    assert failure("sh -c 'exit 4' {input} {output}", image) == "exit code 4: (no message on stderr)"


def test_timeout_kills_the_program_and_its_children(image, tmp_path):
    pidfile = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {shlex.quote(str(pidfile))}; wait"
    started = time.monotonic()
    reason = failure(f"sh -c {shlex.quote(script)} {{input}} {{output}}", image, timeout=0.5)
    assert time.monotonic() - started < 5  # did not wait for the child's 30 s
    assert reason == "timed out after 0.5 s (raise --timeout if it needs longer)"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(child):
        time.sleep(0.05)
    assert not alive(child)


def test_no_output_written(image):
    assert failure("sh -c 'exit 0' {input} {output}", image) == "'sh' exited 0 but wrote no output file"


def test_empty_output(image):
    assert failure("sh -c ': > \"$1\"' {input} {output}", image) == "the program wrote nothing to the output file"


def test_unreadable_output(image):
    reason = failure("sh -c 'echo garbage > \"$1\"' {input} {output}", image)
    assert reason == "unreadable image on the output file: cannot read it as an image (not an image file)"


def test_program_missing_at_run_time(image):
    reason = failure("no-such-filter-program {input} {output}", image)
    assert reason == "command 'no-such-filter-program' not found"


def test_single_thread_limits_the_program(image, monkeypatch):
    for name in ("MAGICK_THREAD_LIMIT", "OMP_NUM_THREADS", "OMP_THREAD_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    template = (
        "sh -c 'echo \"threads=$MAGICK_THREAD_LIMIT/$OMP_NUM_THREADS/$OMP_THREAD_LIMIT\" >&2; exit 3' {input} {output}"
    )
    assert failure(template, image, single_thread=True) == "exit code 3: threads=1/1/1"
    assert failure(template, image, single_thread=False) == "exit code 3: threads=//"


def test_programs_keep_their_temporary_files_in_ram(image, monkeypatch):
    for name in ("MAGICK_TEMPORARY_PATH", "MAGICK_TMPDIR", "TMPDIR"):
        monkeypatch.delenv(name, raising=False)
    template = "sh -c 'echo \"$MAGICK_TEMPORARY_PATH $MAGICK_TMPDIR $TMPDIR\" >&2; exit 3' {input} {output}"
    folders = set(failure(template, image).removeprefix("exit code 3: ").split())
    assert len(folders) == 1
    assert Path(folders.pop()).is_dir()
    monkeypatch.setenv("MAGICK_TEMPORARY_PATH", "/chosen/by/the/user")
    assert "/chosen/by/the/user" in failure(template, image)


@pytest.mark.requires("convert")
@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's per-process I/O counters")
def test_imagemagick_writes_nothing_to_disk_per_evaluation(photo):
    """ImageMagick spools piped images to temporary files: 1.6 MB per 512x512 blur before they went to RAM.

    Linux adds a reaped child's write_bytes to its parent's, so the counter covers every convert run.
    """
    source = load_image(photo)
    blur = prepared(BLUR, source)
    blur.render(source, {"radius": 3, "sigma": 2})  # the first render encodes the source once
    before = _written()
    for radius in range(1, 6):
        blur.render(source, {"radius": radius, "sigma": 2})
    assert _written() - before == 0


@pytest.mark.requires("convert")
@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's per-process I/O counters")
def test_the_check_for_16_bit_ppm_writes_nothing_to_disk(tmp_path, monkeypatch):
    """It spooled 77 KB to /tmp per process before it ran with the evaluations' environment."""
    import shutil

    for name in ("MAGICK_TEMPORARY_PATH", "MAGICK_TMPDIR", "TMPDIR"):
        monkeypatch.delenv(name, raising=False)
    program = tmp_path / "convert"  # a name of its own: the check runs once per program
    program.symlink_to(shutil.which("convert"))
    before = _written()
    assert command_module._png_is_16_bit_cut(str(program))
    assert _written() - before == 0


def _written() -> int:
    """This process's write_bytes, reaped children included."""
    lines = Path("/proc/self/io").read_text().splitlines()
    return int(next(line.split()[1] for line in lines if line.startswith("write_bytes")))


@pytest.mark.requires("convert")
def test_wrong_size_output_is_a_failed_evaluation(pixels):
    source = target = Image(to_float(quantize(pixels, 8)))  # as if read from an 8-bit PNG
    f = prepared("convert {input} -resize {scale}% {output}", target)
    problem = Problem(f, as_space({"scale": (10, 200)}), [(source, target)], get_metric("rmse"))
    failed = problem.evaluate({"scale": 50})
    assert not failed.ok
    assert (failed.reason, failed.value, failed.loss) == ("the output is 32x24 but the target is 64x48", None, None)
    same = problem.evaluate({"scale": 100})
    assert (same.ok, same.value) == (True, 0.0)


def test_problem_reports_command_failures_without_raising(pixels):
    source = Image(pixels)
    problem = Problem(
        prepared("sh -c 'exit 2' {input} {output}", source),
        as_space({"x": (0, 1)}),
        [(source, source)],
        get_metric("rmse"),
    )
    evaluation = problem.evaluate({"x": 0.5})
    assert (evaluation.ok, evaluation.reason) == (False, "exit code 2: (no message on stderr)")


# --- FunctionFilter ----------------------------------------------------------------------------


def brighten(image, gain):
    return image * gain


def test_function_filter_renders(image, pixels):
    render = FunctionFilter(brighten).render(image, {"gain": 0.5})
    assert render.dtype == np.float32
    assert np.array_equal(render, pixels * np.float32(0.5))


def test_function_filter_clips_to_the_unit_range(image):
    render = FunctionFilter(brighten).render(image, {"gain": 10.0})
    assert render.max() == 1.0 and render.min() == 0.0


@pytest.mark.parametrize(
    "output, expected",
    [
        (np.full((2, 3), 51, dtype=np.uint8), 0.2),  # 2-D grey becomes H x W x 1
        (np.full((2, 3, 1), 13107, dtype=np.uint16), 0.2),
        (np.full((2, 3, 1), 0.2, dtype=np.float64), 0.2),
    ],
)
def test_function_filter_accepts_integer_and_float_outputs(output, expected):
    render = FunctionFilter(lambda image: output).render(Image(np.zeros((2, 3, 1), dtype=np.float32)), {})
    assert (render.shape, render.dtype) == ((2, 3, 1), np.float32)
    assert render.ravel().tolist() == pytest.approx([expected] * 6, abs=1e-7)


def test_function_exceptions_become_evaluation_errors(image):
    def broken(image, gain):
        return image * (1 / gain)  # Python division raises; numpy would warn

    with pytest.raises(EvaluationError, match=r"^ZeroDivisionError: float division by zero$") as caught:
        FunctionFilter(broken).render(image, {"gain": 0.0})
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_output_fails(image, bad):
    def poisoned(image):
        out = image.copy()
        out[3, 4, 1] = bad
        return out

    with pytest.raises(EvaluationError, match=r"the function returned NaN or infinite pixels"):
        FunctionFilter(poisoned).render(image, {})


@pytest.mark.parametrize(
    "output, message",
    [
        (None, r"the function returned an unusable image: an image must have 2 or 3 dimensions, but got shape \(\)"),
        (np.zeros((2, 2, 3, 1)), r"but got shape \(2, 2, 3, 1\)"),
        (np.zeros((2, 2), dtype=np.int64), r"the function returned an unusable image: unsupported pixel type int64"),
    ],
)
def test_unusable_output_fails(image, output, message):
    with pytest.raises(EvaluationError, match=message):
        FunctionFilter(lambda image: output).render(image, {})


def test_check_rejects_unknown_parameter_names():
    with pytest.raises(
        ParamError, match=r"the function brighten takes no parameter named sigma, depth; its parameters are gain$"
    ):
        FunctionFilter(brighten).check(Space.parse(["gain=0:2", "sigma=0:1", "depth=1:3"]))


def test_check_rejects_the_name_of_the_image_argument():
    with pytest.raises(ParamError, match=r"takes no parameter named image; its parameters are gain"):
        FunctionFilter(brighten).check(Space.parse(["image=0:1"]))


def test_check_accepts_known_names_and_keyword_catch_alls():
    assert FunctionFilter(brighten).check(Space.parse(["gain=0:2"])) is None
    assert FunctionFilter(lambda image, **params: image).check(Space.parse(["anything=0:1"])) is None
    assert FunctionFilter(max).check(Space.parse(["anything=0:1"])) is None  # no signature: trusted


def test_check_names_a_function_without_parameters():
    with pytest.raises(
        ParamError, match=r"the function .*<lambda> takes no parameter named gain; its parameters are none$"
    ):
        FunctionFilter(lambda image: image).check(Space.parse(["gain=0:2"]))


def test_function_filter_describe_and_prepare(image):
    def local(image, gain):
        return image

    f = FunctionFilter(local)
    assert f.describe() == "python function test_function_filter_describe_and_prepare.<locals>.local"
    assert FunctionFilter(brighten).describe() == "python function brighten"
    assert f.prepare([image], image, single_thread=True) is f


# --- as_filter and the protocol ----------------------------------------------------------------


def test_as_filter_normalises_each_form():
    command = as_filter(BLUR, timeout=3.0)
    assert isinstance(command, CommandFilter) and (command.template, command.timeout) == (BLUR, 3.0)
    function = as_filter(brighten)
    assert isinstance(function, FunctionFilter) and function.function is brighten
    assert as_filter(command) is command


def test_as_filter_rejects_other_things():
    with pytest.raises(TypeError, match=r"filter must be a command template, a function or a Filter, but got int"):
        as_filter(5)


@pytest.mark.requires("convert")
@pytest.mark.parametrize(
    "spec",
    [BLUR, lambda image, radius, sigma: image * (1 - radius / 20) + sigma / 20],
    ids=["command", "function"],
)
def test_every_filter_kind_conforms(spec, image):
    f = as_filter(spec)
    assert isinstance(f, Filter)
    f.check(BLUR_SPACE)
    ready = f.prepare([image], image, single_thread=True)
    assert isinstance(ready, Filter)
    render = ready.render(image, {"radius": 2.0, "sigma": 1.0})
    assert (render.shape, render.dtype) == (image.pixels.shape, np.float32)
    assert 0 <= render.min() and render.max() <= 1
    assert 0.001 < rmse(image.pixels, render) < 0.5
    assert isinstance(ready.describe(), str) and ready.describe()
