"""What every filter is: something that renders an image for a set of parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import TemplateError

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from ..images import Image
    from ..space import Space
    from .settings_file import SettingsFile

__all__ = ["Filter", "as_filter"]


@runtime_checkable
class Filter(Protocol):
    """The extension point for filters.

    ``render`` returns float32 pixels H x W x C in [0, 1] or raises
    :class:`~filterfit.errors.EvaluationError` with the reason it failed.
    ``check`` validates the filter against the space before any evaluation;
    ``prepare`` returns the filter ready for these images (it may choose the
    format its program writes from the target's); ``describe`` is one line for
    reports and result.json.

    A filter may also say ``per_pixel = True`` when each output pixel depends
    only on the same input pixel and the image's size: ``fit()`` then searches
    a strided preview of the images first (:mod:`filterfit.fidelity`).
    """

    def render(self, image: Image, params: Mapping[str, Any]) -> np.ndarray: ...

    def check(self, space: Space) -> None: ...

    def prepare(self, sources: Sequence[Image], target: Image, *, single_thread: bool) -> Filter: ...

    def describe(self) -> str: ...


def as_filter(
    spec: Filter | str | Callable[..., Any],
    *,
    timeout: float = 60.0,
    files: Sequence[SettingsFile] | Mapping[str, str | Path] | None = None,
) -> Filter:
    """Normalise a filter given as an object, a command template or a function.

    Examples
    --------
    >>> as_filter("convert {input} -blur {radius}x{sigma} {output}").describe()
    'convert {input} -blur {radius}x{sigma} {output}'
    """
    from .command import CommandFilter
    from .function import FunctionFilter

    settings = _settings_files(files)
    if isinstance(spec, str):
        return CommandFilter(spec, timeout=timeout, files=settings)
    if settings:
        raise TemplateError("settings files are for a command template: give the command as a string with them")
    if isinstance(spec, Filter):
        return spec
    if callable(spec):
        return FunctionFilter(spec)
    raise TypeError(f"filter must be a command template, a function or a Filter, but got {type(spec).__name__}")


def _settings_files(files: Sequence[SettingsFile] | Mapping[str, str | Path] | None) -> tuple[SettingsFile, ...]:
    """Settings files as given: SettingsFile objects, or ``{"profile": "look.pp3"}`` to read."""
    from .settings_file import SettingsFile

    if files is None:
        return ()
    if isinstance(files, Mapping):
        return tuple(SettingsFile.read(name, path) for name, path in files.items())
    return tuple(files)
