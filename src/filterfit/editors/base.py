"""What every editor is: its program, its sliders, and the settings file it reads.

An :class:`Editor` knows a photo editor's command line, the sliders it fits
(each named as the editor names it, with the range the editor allows) and how
to write them as the editor's own settings file. :class:`EditorFilter` is the
filter a fit runs: for each evaluation the settings file is written with the
values into the RAM scratch folder and the editor renders the photo with it
(through :class:`~filterfit.filters.CommandFilter` and its settings files).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ParamError
from ..filters.command import CommandFilter
from ..filters.settings_file import SettingsFile
from ..space import Param, Space

if TYPE_CHECKING:
    from ..filters.base import Filter
    from ..images import Image

__all__ = ["Editor", "EditorFilter", "Slider"]


@dataclass(frozen=True)
class Slider:
    """One slider of an editor: how filterfit names it, where the settings file keeps it, its range.

    ``name`` is ``section_key`` in snake case (``exposure_compensation`` for
    RawTherapee's [Exposure] Compensation): a parameter name for ``--param``.
    ``label`` is what the editor's panel shows. ``spec`` is the format the
    settings file wants the value in (``f32``: darktable's packed float).
    ``low`` to ``high`` is the range searched by default; ``limits``, where the
    editor accepts more than its slider shows (darktable's soft ranges), is how
    far ``--param`` may extend it.
    """

    name: str
    section: str
    key: str
    low: float
    high: float
    neutral: float
    label: str
    integer: bool = False
    log: bool = False
    spec: str = ""
    limits: tuple[float, float] | None = None

    def param(self, low: float | None = None, high: float | None = None) -> Param:
        """The slider as a parameter: its whole range, or ``low`` to ``high`` within it (its kind and scale kept)."""
        kind = "int" if self.integer else "float"
        low, high = self.low if low is None else low, self.high if high is None else high
        return Param(self.name, low=low, high=high, kind=kind, log=self.log)

    @property
    def bounds(self) -> tuple[float, float]:
        """The widest range the editor accepts."""
        return self.limits if self.limits is not None else (self.low, self.high)

    @property
    def placeholder(self) -> str:
        """``{name}``, ``{name:.0f}`` for a slider the editor reads as a whole number (RawTherapee refuses 43.1),
        or ``{name:SPEC}`` in the format the settings file wants."""
        if self.spec:
            return f"{{{self.name}:{self.spec}}}"
        return f"{{{self.name}:.0f}}" if self.integer else f"{{{self.name}}}"


@dataclass(frozen=True)
class Editor:
    """A photo editor driven through its settings file.

    Parameters
    ----------
    name : str
        ``--editor NAME``.
    title : str
        The editor's own name, for messages.
    program : str
        The command that renders (``rawtherapee-cli``).
    sliders : tuple of Slider
        Every slider filterfit can fit, in the editor's panel order.
    default : tuple of str
        The sliders fitted unless ``--param`` names others.
    suffix : str
        The settings file's suffix (``.pp3``).
    command : callable
        ``command(output_format, bit_depth) -> template``: the command line with
        ``{input}``, ``{output}`` and ``{look}`` (the settings file's path).
    settings : callable
        ``settings(sliders) -> template``: the settings file with a
        ``{name}`` placeholder for each slider given.
    reads : tuple of str
        The photo formats the editor opens (``raw``: camera RAW files); another
        is handed over as TIFF.
    extra_files : dict
        ``{suffix: settings}``: more of the editor's files that ``--out`` gets
        with the best values beside the settings file (darktable's ``.dtstyle``),
        each built as ``settings`` builds the settings file.
    server : callable, optional
        ``server(command, bit_depth) -> Filter``: how a fit renders instead of
        starting the command for each evaluation, given the command prepared
        for the images (GIMP's 4 s start-up, paid once per worker by a GIMP
        kept running). ``filterfit apply`` and ``export`` use the command.
    """

    name: str
    title: str
    program: str
    sliders: tuple[Slider, ...]
    default: tuple[str, ...]
    suffix: str
    command: Callable[[str, int], str]
    settings: Callable[[Sequence[Slider]], str]
    reads: tuple[str, ...] = ("tiff", "jpeg", "raw")
    writes: tuple[str, ...] = ("png", "tiff")
    extra_files: Mapping[str, Callable[[Sequence[Slider]], str]] = field(default_factory=dict)
    server: Callable[[CommandFilter, int], Filter] | None = None
    by_name: dict[str, Slider] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {slider.name: slider for slider in self.sliders})

    def space(self, given: Space | None = None) -> Space:
        """The sliders' space: the default set, or the sliders ``given`` names at the ranges it gives."""
        if given is None:
            return Space([self.by_name[name].param() for name in self.default])
        unknown = [name for name in given.names if name not in self.by_name]
        if unknown:
            raise ParamError(
                f"{self.title} has no slider {unknown[0]} that filterfit knows; its sliders are "
                f"{', '.join(self.by_name)}"
            )
        params = []
        for param in given:
            slider = self.by_name[param.name]
            if param.kind == "choice":
                raise ParamError(f"--param {param.name}: give {slider.label} a range LOW:HIGH, not choices")
            low, high = slider.bounds
            if param.low < low or param.high > high:
                raise ParamError(
                    f"--param {param.name}={param.low:g}:{param.high:g} is outside {self.title}'s range for "
                    f"{slider.label}, {low:g}:{high:g}: give a range within it"
                )
            params.append(slider.param(param.low, param.high))  # the editor's kind and scale: a whole number stays one
        return Space(params)

    def filter(self, names: Sequence[str], *, timeout: float = 60.0) -> EditorFilter:
        return EditorFilter(self, tuple(names), timeout)


@dataclass(frozen=True)
class EditorFilter:
    """The filter of an editor's sliders ``names``: the editor renders each evaluation from its settings file."""

    editor: Editor
    names: tuple[str, ...]
    timeout: float = 60.0

    def command_filter(self, output_format: str = "png", bit_depth: int = 8) -> CommandFilter:
        """The command and settings file that render the sliders into ``output_format`` at ``bit_depth``."""
        sliders = [self.editor.by_name[name] for name in self.names]
        title = f"{self.editor.title}'s settings"
        look = SettingsFile("look", self.editor.settings(sliders), self.editor.suffix, title)
        extras = tuple(
            SettingsFile("look", build(sliders), suffix, title) for suffix, build in self.editor.extra_files.items()
        )
        return CommandFilter(
            self.editor.command(output_format, bit_depth),
            timeout=self.timeout,
            files=(look,),
            exports=extras,
            reads=self.editor.reads,
            private_config=True,
        )

    def check(self, space: Space) -> None:
        self.editor.space(space)
        self.command_filter().check(space)  # the program is installed, with the hint to install it

    def prepare(self, sources: Sequence[Image], target: Image, *, single_thread: bool) -> Filter:
        output = target.format if target.format in self.editor.writes else "png"
        depth = target.bit_depth if output != "jpeg" else 8
        command = self.command_filter(output, depth).prepare(sources, target, single_thread=single_thread)
        return command if self.editor.server is None else self.editor.server(command, depth)

    def render(self, image: Image, params: Mapping[str, Any]) -> np.ndarray:
        return self.prepare([image], image, single_thread=False).render(image, params)

    def describe(self) -> str:
        return f"{self.editor.name}: {', '.join(self.names)}"

    def preset(self, values: Mapping[str, Any]) -> str:
        """The editor's settings file with these values: what ``--out`` writes (``look.pp3``, ``look.xmp``)."""
        return self.command_filter().files[0].render(values)

    def neutral(self) -> dict[str, float]:
        """Every slider where it leaves the photo as it is."""
        return {name: self.editor.by_name[name].neutral for name in self.names}

    def develop(self, path: Path, *, bit_depth: int = 16) -> Image:
        """A camera RAW file as the editor develops it with every slider at neutral.

        The pixels stand for the source in the report and the fit's checks (and give its size: the
        developed one, which filterfit learns from this render, not by decoding the file); every
        evaluation hands the editor the RAW file itself.
        """
        from ..errors import EvaluationError, ImageError
        from ..images import Image

        if not path.is_file():
            raise ImageError(f"image not found: {path} (check the path)")
        if "raw" not in self.editor.reads:
            raise ImageError(
                f"{self.editor.title} does not develop camera RAW files like {path.name}: fit --editor rawtherapee "
                "or darktable, or give the photo as TIFF or PNG"
            )
        raw = Image(np.zeros((1, 1, 3), dtype=np.float32), bit_depth, "raw", path)
        neutral = self.neutral()
        stand_in = Image(raw.pixels, bit_depth, "tiff")  # what the editor is asked to write: a 16-bit TIFF
        try:
            pixels = (
                self.command_filter("tiff", bit_depth)
                .prepare([raw], stand_in, single_thread=False)
                .render(raw, neutral)
            )
        except EvaluationError as error:
            raise ImageError(f"{self.editor.title} could not develop {path}: {error}") from None
        return Image(pixels, bit_depth, "raw", path)

    def to_dict(self) -> dict[str, Any]:
        """What result.json keeps so that :func:`filterfit.editors.editor_filter` rebuilds this filter."""
        return {"name": self.editor.name, "sliders": list(self.names)}
