"""An external program as a filter, built from a command template.

``convert {input} -blur {radius}x{sigma} {output}`` is split like a shell
would split it (``shlex``), but no shell ever runs: each word becomes one argv
element and parameter values are formatted into it, never interpreted.

ImageMagick (``convert``, ``magick``) and GraphicsMagick (``gm``) read the
source from stdin and write to stdout, in formats :mod:`.magick` chooses so
that the render is quantised exactly as the program would write the target
file. Other programs get files in a RAM-backed temporary folder. Either way
:mod:`.program` runs the program and turns a failure into the evaluation's
reason.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import string
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CommandNotFoundError, EvaluationError, ImageError, TemplateError
from ..images import Image, decode
from .magick import PIPE_PROGRAMS, cut_to_8_bits, pipe_input, pipe_input_format, pipe_output
from .magick import png_is_16_bit_cut as _png_is_16_bit_cut  # looked up here, where tests replace it
from .program import input_file, run_program
from .program import kill_running_programs as kill_running_programs  # re-exported: it was defined here
from .program import scratch_folder as _scratch_folder  # tests reach the folder as command._scratch_folder
from .settings_file import SettingsFile

if TYPE_CHECKING:
    from ..space import Space

__all__ = ["CommandFilter", "format_value"]

RESERVED = ("input", "output")
INSTALL_HINTS = {
    "convert": "install ImageMagick: apt-get install imagemagick (macOS: brew install imagemagick)",
    "magick": "install ImageMagick 7: brew install imagemagick, or use convert from apt's imagemagick",
    "compare": "install ImageMagick: apt-get install imagemagick",
    "gm": "install GraphicsMagick: apt-get install graphicsmagick",
    "gmic": "install G'MIC: apt-get install gmic",
    "rawtherapee-cli": "install RawTherapee: apt-get install rawtherapee",
    "darktable-cli": "install darktable: apt-get install darktable",
    "gimp-console": "install GIMP: apt-get install gimp",
}
# Output formats the program writes in: the target's own, never lossy.
FILE_SUFFIX = {"png": ".png", "tiff": ".tif", "pnm": ".pam", "bmp": ".bmp"}


def format_value(value: Any, spec: str = "") -> str:
    """Format a parameter value for a command line.

    Floats print in plain positional notation without trailing zeros
    (``27.0`` -> ``"27"``, ``1e-5`` -> ``"0.00001"``) because not every
    program parses exponents; a format spec (``{sigma:.2f}``) wins. The spec
    ``f32`` writes the value as a 32-bit float's four little-endian bytes in
    hex, as darktable's .xmp keeps a module's parameters (``1.0`` ->
    ``"0000803f"``).
    """
    if spec == "f32":
        return struct.pack("<f", float(value)).hex()
    if spec:
        return format(value, spec)
    if isinstance(value, (float, np.floating)):
        return np.format_float_positional(float(value), trim="-")
    return str(value)


class ValueFormatter(string.Formatter):
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
    files : tuple of SettingsFile
        Settings files the program reads (:mod:`.settings_file`): each is
        written with the parameters' values for every evaluation, in the RAM
        scratch folder, and its path goes where the template names it
        (``-p {profile}``).
    reads : tuple of str
        The photo formats the program opens (empty: any); a source of another
        format is handed over as a TIFF written in the RAM scratch folder.
    private_config : bool
        Point the program's configuration and cache folders (``XDG_CONFIG_HOME``,
        ``XDG_CACHE_HOME``) into the RAM scratch folder: a photo editor writes
        its settings there on every start (one folder per program running at
        once: darktable locks its own).
    exports : tuple of SettingsFile
        Files written only into ``--out`` with the best values, never read by
        the program during the fit (darktable's ``.dtstyle``).

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
    files: tuple[SettingsFile, ...] = ()
    reads: tuple[str, ...] = ()
    private_config: bool = False
    exports: tuple[SettingsFile, ...] = ()
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
        self._check_files(fields)

    def _check_files(self, fields: list[str]) -> None:
        seen: set[str] = set()
        for settings in self.files:
            if settings.name in RESERVED or settings.name in seen:
                why = "is the photo's" if settings.name in RESERVED else "is given twice"
                raise TemplateError(
                    f"settings file name {{{settings.name}}} {why}: give each settings file its own name"
                )
            if settings.name not in fields:
                raise TemplateError(
                    f"there is a settings file for {{{settings.name}}} ({settings.origin}) but the command has "
                    f"no {{{settings.name}}}: write it where the program takes the file's path, e.g. "
                    f"-p {{{settings.name}}}"
                )
            seen.add(settings.name)

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

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(settings.name for settings in self.files)

    def check(self, space: Space) -> None:
        """Every placeholder is a parameter and every parameter is used; the program exists."""
        known = ", ".join(space.names)
        used = set(self.placeholders()) - set(RESERVED) - set(self.file_names)
        where = {name: "the command" for name in used}
        for settings in self.files:
            for name in settings.placeholders():
                where.setdefault(name, f"{settings.origin} line {settings.line_of(name)}")
        unknown = [name for name in where if name not in space.names]
        if unknown:
            raise TemplateError(
                f"{where[unknown[0]]} uses {{{unknown[0]}}} but no --param {unknown[0]}=... defines it "
                f"(parameters: {known}; add --param {unknown[0]}=LOW:HIGH)"
            )
        unused = [name for name in space.names if name not in where]
        if unused:
            places = "the command or its settings files" if self.files else "the command"
            raise TemplateError(f"parameter {unused[0]} is not used in {places}: add {{{unused[0]}}} where it belongs")
        for values in _sample_values(space):  # a format spec that does not fit a parameter's values fails now
            self.argv(values, "in.png", "out.png")
            for settings in self.files:
                settings.render(values)
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

    def argv(
        self, params: Mapping[str, Any], input_path: str, output_path: str, files: Mapping[str, str] | None = None
    ) -> list[str]:
        """The argument list for one evaluation (files, not pipes); ``files``: each settings file's path."""
        paths = files if files is not None else {name: f"{name}{s.suffix}" for name, s in self._files().items()}
        values = {**params, "input": input_path, "output": output_path, **paths}
        formatter = ValueFormatter()
        return [formatter.vformat(word, (), values) for word in self.words]

    def pipe_argv(self, params: Mapping[str, Any], channels: int, files: Mapping[str, str] | None = None) -> list[str]:
        """The argument list when the program reads stdin and writes stdout."""
        formatter = ValueFormatter()
        params = {**params, **(files or {})}
        argv: list[str] = []
        for word in self.words:
            if word == "{input}":
                argv.append(pipe_input_format(channels))
            elif word == "{output}":
                argv.extend(pipe_output(self.program, self.output_format, png_as_16_bit=self.png_as_16_bit))
            else:
                argv.append(formatter.vformat(word, (), dict(params)))
        return argv

    def render(self, image: Image, params: Mapping[str, Any]) -> np.ndarray:
        try:
            return self._render(image, params)
        except TemplateError as error:  # a format spec that does not fit this value: this evaluation fails
            raise EvaluationError(str(error)) from None

    def _files(self) -> dict[str, SettingsFile]:
        return {settings.name: settings for settings in self.files}

    def _render(self, image: Image, params: Mapping[str, Any]) -> np.ndarray:
        written = [settings.write(params, _scratch_folder()) for settings in self.files]
        try:
            return self._render_with(image, params, {s.name: str(path) for s, path in zip(self.files, written)})
        finally:
            for path in written:
                path.unlink(missing_ok=True)

    def _render_with(self, image: Image, params: Mapping[str, Any], files: Mapping[str, str]) -> np.ndarray:
        if self.uses_pipes:
            argv = self.pipe_argv(params, image.channels, files)
            data = self._run(argv, stdin=pipe_input(image))
            if self.png_as_16_bit:
                return cut_to_8_bits(data)
            return _decode_output(data, "stdout")
        folder = _scratch_folder()
        # One name per thread: filterfit apply renders several photos at once from threads of one process.
        # The program gets filterfit's own absolute names, never the user's: no name can look like an option.
        output = folder / f"out-{os.getpid()}-{threading.get_ident()}{FILE_SUFFIX.get(self.output_format, '.png')}"
        output.unlink(missing_ok=True)
        argv = self.argv(params, str(input_file(image, folder, self.reads)), str(output), files)
        self._run(argv, stdin=None)
        try:
            data = output.read_bytes()
        except FileNotFoundError:
            raise EvaluationError(f"'{self.program}' exited 0 but wrote no output file") from None
        finally:
            output.unlink(missing_ok=True)
        return _decode_output(data, "the output file")

    def _run(self, argv: list[str], stdin: bytes | None) -> bytes:
        return run_program(
            argv, stdin, timeout=self.timeout, single_thread=self.single_thread, private_config=self.private_config
        )


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


def _decode_output(data: bytes, where: str) -> np.ndarray:
    if not data:
        raise EvaluationError(f"the program wrote nothing to {where}")
    try:
        return decode(data).pixels
    except ImageError as error:
        raise EvaluationError(f"unreadable image on {where}: {error}") from None
