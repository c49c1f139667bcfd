"""An external program as a filter, built from a command template.

``convert {input} -blur {radius}x{sigma} {output}`` is split like a shell
would split it (``shlex``), but no shell ever runs: each word becomes one argv
element and parameter values are formatted into it, never interpreted.

ImageMagick (``convert``, ``magick``) and GraphicsMagick (``gm``) read the
source from stdin as uncompressed PPM/PAM and write to stdout in the target's
own format, uncompressed, so the render is quantised exactly as the program
would write the target file (ImageMagick rounds PNG and PPM samples
differently). Other programs get files in a RAM-backed temporary folder
(``/dev/shm`` where it exists): nothing is written to the working disk.

An 8-bit RGB PNG target is the common case, and PNG costs ImageMagick 5 ms
more to write than 16-bit PPM (5% of a 512x512 27x20 blur's evaluation),
even stored uncompressed. ImageMagick 6 at 16 bits per sample (Q16) writes such a PNG as
its 16-bit sample q cut to ``q // 257``: where a check of the installed
program shows exactly that, it writes 16-bit PPM instead and filterfit cuts
the samples itself, to the same pixels.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import re
import shlex
import shutil
import signal
import string
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CommandNotFoundError, EvaluationError, ImageError, TemplateError
from ..images import Image, decode, decode_pnm, encode_pnm, to_float

if TYPE_CHECKING:
    from ..space import Space

__all__ = ["CommandFilter", "format_value"]

RESERVED = ("input", "output")
PIPE_PROGRAMS = frozenset({"convert", "magick", "gm"})
INSTALL_HINTS = {
    "convert": "install ImageMagick: apt-get install imagemagick (macOS: brew install imagemagick)",
    "magick": "install ImageMagick 7: brew install imagemagick, or use convert from apt's imagemagick",
    "compare": "install ImageMagick: apt-get install imagemagick",
    "gm": "install GraphicsMagick: apt-get install graphicsmagick",
    "gmic": "install G'MIC: apt-get install gmic",
}
# Output formats the program writes in: the target's own, never lossy.
FILE_SUFFIX = {"png": ".png", "tiff": ".tif", "pnm": ".pam", "bmp": ".bmp"}


def format_value(value: Any, spec: str = "") -> str:
    """Format a parameter value for a command line.

    Floats print in plain positional notation without trailing zeros
    (``27.0`` -> ``"27"``, ``1e-5`` -> ``"0.00001"``) because not every
    program parses exponents; a format spec (``{sigma:.2f}``) wins.
    """
    if spec:
        return format(value, spec)
    if isinstance(value, (float, np.floating)):
        return np.format_float_positional(float(value), trim="-")
    return str(value)


class _ValueFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        try:
            return format_value(value, format_spec)
        except (ValueError, TypeError) as error:
            raise TemplateError(
                f"the format spec :{format_spec} does not fit the value {value!r} ({error}): "
                "change the spec or the values"
            ) from None


@dataclass(frozen=True)
class CommandFilter:
    """Run an external program for each evaluation.

    Parameters
    ----------
    template : str
        The command line with ``{input}``, ``{output}`` and one ``{name}``
        (optionally ``{name:.2f}``) per parameter.
    timeout : float
        Seconds one evaluation may take; past it the program and its children
        are killed and the evaluation fails.
    single_thread : bool
        Limit the program to one thread (set when several workers run).
    output_format : str
        Format the program writes: the target's (``png``, ``tiff``, ``pnm``,
        ``bmp``); lossy targets get PNG.
    png_as_16_bit : bool
        Ask for 16-bit PPM and cut it to 8 bits as the program's PNG writer
        does (set by ``prepare`` where a check shows that it is the same).

    Examples
    --------
    >>> f = CommandFilter("convert {input} -blur {radius}x{sigma} {output}")
    >>> f.argv({"radius": 27.0, "sigma": 20.0}, "in.png", "out.png")
    ['convert', 'in.png', '-blur', '27x20', 'out.png']
    """

    template: str
    timeout: float = 60.0
    single_thread: bool = False
    output_format: str = "png"
    png_as_16_bit: bool = False
    words: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.template.strip():
            raise TemplateError(
                "the command is empty: give a template like 'convert {input} -blur {radius}x{sigma} {output}'"
            )
        try:
            words = tuple(shlex.split(self.template))
        except ValueError as error:
            raise TemplateError(f"cannot split the command {self.template!r}: {error} (check the quotes)") from None
        object.__setattr__(self, "words", words)
        fields = self.placeholders()  # raises on unbalanced braces
        for name in RESERVED:
            if name not in fields:
                raise TemplateError(
                    f"the command has no {{{name}}} placeholder: write it where the program "
                    f"takes its {name} file, e.g. 'convert {{input}} -blur {{radius}}x{{sigma}} {{output}}'"
                )

    @property
    def program(self) -> str:
        return self.words[0]

    @property
    def uses_pipes(self) -> bool:
        """True when the program is ImageMagick-like and takes stdin/stdout."""
        return Path(self.program).name in PIPE_PROGRAMS and all(f"{{{name}}}" in self.words for name in RESERVED)

    def placeholders(self) -> list[str]:
        """Names of the ``{...}`` fields in the template, in order."""
        names: list[str] = []
        for word in self.words:
            try:
                parsed = list(string.Formatter().parse(word))
            except ValueError as error:
                raise TemplateError(
                    f"the command word {word!r} has unbalanced braces ({error}); write {{{{ and }}}} for literal braces"
                ) from None
            for _, name, spec, conversion in parsed:
                if name is not None:
                    if not name.isidentifier():
                        raise TemplateError(f"placeholder {{{name}}} in {word!r} is not a parameter name")
                    _check_field(word, name, spec or "", conversion)
                    names.append(name)
        return names

    def check(self, space: Space) -> None:
        """Every placeholder is a parameter and every parameter is used; the program exists."""
        used = set(self.placeholders()) - set(RESERVED)
        unknown = sorted(used - set(space.names))
        if unknown:
            known = ", ".join(space.names)
            raise TemplateError(
                f"the command uses {{{unknown[0]}}} but no --param {unknown[0]}=... defines it "
                f"(parameters: {known}; add --param {unknown[0]}=LOW:HIGH)"
            )
        unused = [name for name in space.names if name not in used]
        if unused:
            raise TemplateError(
                f"parameter {unused[0]} is not used in the command: add {{{unused[0]}}} where it belongs"
            )
        for values in _sample_values(space):  # a format spec that does not fit a parameter's values fails now
            self.argv(values, "in.png", "out.png")
        self.require_program()

    def require_program(self) -> None:
        """The program is installed, or the error says how to install it."""
        if shutil.which(self.program) is None:
            hint = INSTALL_HINTS.get(Path(self.program).name, "install it or give its full path")
            raise CommandNotFoundError(f"command '{self.program}' is not installed or not on PATH: {hint}")

    def prepare(self, sources: Sequence[Image], target: Image, *, single_thread: bool) -> CommandFilter:
        fmt = target.format if target.format in FILE_SUFFIX else "png"
        rgb8 = all(image.channels == 3 and image.bit_depth == 8 for image in [*sources, target])
        cheaper_png = (
            fmt == "png"
            and rgb8
            and self.uses_pipes
            and Path(self.program).name in ("convert", "magick")
            and "-depth" not in self.words  # the program's own choice of depth decides what its PNG holds
            and _png_is_16_bit_cut(self.program)
        )
        return replace(self, output_format=fmt, single_thread=single_thread, png_as_16_bit=cheaper_png)

    def describe(self) -> str:
        return self.template

    def argv(self, params: Mapping[str, Any], input_path: str, output_path: str) -> list[str]:
        """The argument list for one evaluation (files, not pipes)."""
        values = {"input": input_path, "output": output_path, **params}
        formatter = _ValueFormatter()
        return [formatter.vformat(word, (), values) for word in self.words]

    def pipe_argv(self, params: Mapping[str, Any], channels: int) -> list[str]:
        """The argument list when the program reads stdin and writes stdout."""
        formatter = _ValueFormatter()
        argv: list[str] = []
        for word in self.words:
            if word == "{input}":
                argv.append({1: "pgm:-", 3: "ppm:-"}.get(channels, "pam:-"))
            elif word == "{output}":
                argv.extend(self._pipe_output())
            else:
                argv.append(formatter.vformat(word, (), dict(params)))
        return argv

    def _pipe_output(self) -> list[str]:
        if self.png_as_16_bit:
            return ["-depth", "16", "ppm:-"]
        graphicsmagick = Path(self.program).name == "gm"
        if self.output_format == "png":
            level = ["-quality", "1"] if graphicsmagick else ["-define", "png:compression-level=0"]
            return [*level, "png:-"]
        if self.output_format == "tiff":
            return ["-compress", "none", "tiff:-"]
        return [f"{'pam' if self.output_format == 'pnm' else self.output_format}:-"]

    def render(self, image: Image, params: Mapping[str, Any]) -> np.ndarray:
        try:
            return self._render(image, params)
        except TemplateError as error:  # a format spec that does not fit this value: this evaluation fails
            raise EvaluationError(str(error)) from None

    def _render(self, image: Image, params: Mapping[str, Any]) -> np.ndarray:
        if self.uses_pipes:
            argv = self.pipe_argv(params, image.channels)
            data = self._run(argv, stdin=_pipe_input(image))
            if self.png_as_16_bit:
                return _cut_to_8_bits(data)
            return _decode_output(data, "stdout")
        folder = _scratch_folder()
        # One name per thread: filterfit apply renders several photos at once from threads of one process.
        # The program gets filterfit's own absolute names, never the user's: no name can look like an option.
        output = folder / f"out-{os.getpid()}-{threading.get_ident()}{FILE_SUFFIX.get(self.output_format, '.png')}"
        output.unlink(missing_ok=True)
        argv = self.argv(params, str(_input_file(image, folder)), str(output))
        self._run(argv, stdin=None)
        try:
            data = output.read_bytes()
        except FileNotFoundError:
            raise EvaluationError(f"'{self.program}' exited 0 but wrote no output file") from None
        finally:
            output.unlink(missing_ok=True)
        return _decode_output(data, "the output file")

    def _run(self, argv: list[str], stdin: bytes | None) -> bytes:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_environment(single_thread=self.single_thread),
                start_new_session=True,  # so a timeout kills the program's children too
            )
        except FileNotFoundError:
            raise EvaluationError(f"command '{argv[0]}' not found") from None
        except OSError as error:
            raise EvaluationError(f"cannot start '{argv[0]}': {error.strerror}") from None
        except ValueError as error:  # a NUL byte or an unencodable character in an argument
            raise EvaluationError(f"cannot start '{argv[0]}': {error} in an argument") from None
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        try:
            stdout, stderr = process.communicate(stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise EvaluationError(f"timed out after {self.timeout:g} s (raise --timeout if it needs longer)") from None
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
        if process.returncode < 0:
            raise EvaluationError(f"killed by signal {_signal_name(-process.returncode)}: {_excerpt(stderr)}")
        if process.returncode != 0:
            raise EvaluationError(f"exit code {process.returncode}: {_excerpt(stderr)}")
        return stdout


def _environment(*, single_thread: bool) -> dict[str, str]:
    """The environment a program runs in: temporary files in RAM, and one thread when asked."""
    env = dict(os.environ)
    # ImageMagick spools piped images to temporary files; keep those (and any other program's) in RAM.
    scratch = str(_scratch_folder())
    for name in ("MAGICK_TEMPORARY_PATH", "MAGICK_TMPDIR", "TMPDIR"):
        env.setdefault(name, scratch)
    if single_thread:
        env.update(MAGICK_THREAD_LIMIT="1", OMP_NUM_THREADS="1", OMP_THREAD_LIMIT="1")
    return env


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _check_field(word: str, name: str, spec: str, conversion: str | None) -> None:
    """A field's conversion and format spec are plain: a nested {field} would be looked up at run time."""
    if conversion not in (None, "r", "s", "a"):
        raise TemplateError(f"placeholder {{{name}!{conversion}}} in {word!r}: the conversion must be !r, !s or !a")
    if "{" in spec or "}" in spec:
        raise TemplateError(
            f"placeholder {{{name}:{spec}}} in {word!r} nests braces in its format spec: write a plain spec like :.2f"
        )
    if re.search(r"\d{5,}", spec):  # {x:999999999} would build a gigabyte argument; Linux takes 128 KiB
        raise TemplateError(f"placeholder {{{name}:{spec}}} in {word!r} asks for a width or precision above 9999")


def _sample_values(space: Space) -> Iterator[dict[str, Any]]:
    """Values to try the format specs on before any evaluation: every choice, and each number's low end."""
    first = {param.name: param.choices[0] if param.choices else param.snap(param.low) for param in space}
    yield first
    for param in space:
        for choice in param.choices[1:]:
            yield {**first, param.name: choice}


# Programs running in this process's threads (one worker evaluates in a thread), so that Ctrl-C can stop them.
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


def kill_running_programs() -> None:
    """Kill every program this process is running, children included: Ctrl-C must not wait for them."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


def _excerpt(stderr: bytes, limit: int = 300) -> str:
    text = " ".join(stderr.decode("utf-8", "replace").split())
    if not text:
        return "(no message on stderr)"
    return text if len(text) <= limit else "..." + text[-limit:]


def _decode_output(data: bytes, where: str) -> np.ndarray:
    if not data:
        raise EvaluationError(f"the program wrote nothing to {where}")
    try:
        return decode(data).pixels
    except ImageError as error:
        raise EvaluationError(f"unreadable image on {where}: {error}") from None


def _cut_to_8_bits(data: bytes) -> np.ndarray:
    """16-bit PPM from the program as float pixels of the 8-bit PNG it would have written."""
    try:
        samples, maxval = decode_pnm(data)
    except ImageError as error:
        raise EvaluationError(f"unreadable image on stdout: {error}") from None
    if maxval != 65535:
        raise EvaluationError(
            f"the program wrote {maxval + 1}-level samples to stdout where 16-bit ones were asked for"
        )
    return to_float((samples // 257).astype(np.uint8))


@functools.cache
def _png_is_16_bit_cut(program: str) -> bool:
    """True when ``program`` writes 8-bit PNG samples as its 16-bit ones cut to ``q // 257``.

    Checked on blurred noise (samples of every kind) through the very pipes the evaluations use,
    once per program and process: a build with floating-point samples (HDRI, ImageMagick 7's
    default) or another rounding fails it.
    """
    noise = Image(to_float(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    try:
        blur = CommandFilter(f"{shlex.quote(program)} {{input}} -blur 0x0.8 {{output}}", timeout=30, single_thread=True)
        png, cut = (replace(blur, png_as_16_bit=cheaper).render(noise, {}) for cheaper in (False, True))
    except (EvaluationError, TemplateError):
        return False
    return png.shape == cut.shape and bool(np.array_equal(png, cut))


# Per-process caches: a worker encodes each source once and reuses it. Weak keys, not
# id(image): a freed image's id is reused by the next one, which then got stale pixels.
_PIPE_INPUTS: weakref.WeakKeyDictionary[Image, bytes] = weakref.WeakKeyDictionary()
_INPUT_FILES: weakref.WeakKeyDictionary[Image, Path] = weakref.WeakKeyDictionary()
_SCRATCH: list[Path] = []
_INPUT_NUMBERS = itertools.count()


def _pipe_input(image: Image) -> bytes:
    if image not in _PIPE_INPUTS:
        _PIPE_INPUTS[image] = encode_pnm(image.pixels, image.bit_depth)
    return _PIPE_INPUTS[image]


def _input_file(image: Image, folder: Path) -> Path:
    if image not in _INPUT_FILES:
        name = f"in-{next(_INPUT_NUMBERS)}"  # not id(image): a freed image's id is reused while its file may remain
        if image.path is not None:
            path = folder / f"{name}{_plain_suffix(image)}"
            shutil.copyfile(image.path, path)  # the program reads the very file the user gave
        else:
            from ..images import save_image

            path = save_image(image.pixels, folder / f"{name}.png", bit_depth=image.bit_depth)
        _INPUT_FILES[image] = path
        weakref.finalize(image, path.unlink, True)  # gone with its image: apply's batches would fill /dev/shm
    return _INPUT_FILES[image]


def _plain_suffix(image: Image) -> str:
    """The user's file suffix when it is a plain one (.png, .jpg), else one for its format.

    ImageMagick reads ``photo.png[0]`` or ``photo.png[10x10]`` as a frame or size selector.
    """
    assert image.path is not None
    suffix = image.path.suffix.lower()
    if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
        return suffix
    return {"jpeg": ".jpg", "tiff": ".tif", "pnm": ".pnm"}.get(image.format, f".{image.format}")


def _scratch_folder() -> Path:
    """A private temporary folder on a RAM-backed file system where there is one."""
    if not _SCRATCH or _SCRATCH[0].name.split("-")[-1] != str(os.getpid()):
        ram = Path("/dev/shm")
        base = str(ram) if ram.is_dir() and os.access(ram, os.W_OK) else None
        folder = Path(tempfile.mkdtemp(prefix="filterfit-", suffix=f"-{os.getpid()}", dir=base))
        _SCRATCH[:] = [folder]
        _INPUT_FILES.clear()
        atexit.register(shutil.rmtree, folder, True)
    return _SCRATCH[0]
