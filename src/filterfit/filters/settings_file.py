"""Settings files: a program that takes its settings as a file gets one written for each evaluation.

Real photo editors read their settings from a file, not from the command line:
RawTherapee a ``.pp3`` profile, darktable an ``.xmp`` sidecar. A settings file
template is that file with ``{name}`` placeholders, the same as a command
template's (``{exposure:.2f}``; ``{{`` and ``}}`` for literal braces). For each
evaluation it is written with the parameters' values into the RAM scratch
folder, and the command gets its path where it names the file
(``rawtherapee-cli -o {output} -p {profile} -c {input}``). Values are
formatted, never interpreted; nothing lands on the working disk.
"""

from __future__ import annotations

import os
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FilterFitError, TemplateError

__all__ = ["SettingsFile", "parse_settings_option", "settings_files"]

MAX_BYTES = 1 << 20  # a settings file is text of a few KB; a bigger one is the wrong file


@dataclass(frozen=True)
class SettingsFile:
    """A settings file template, written with the parameters' values for each evaluation.

    Parameters
    ----------
    name : str
        The command's placeholder for the written file's path (``profile`` for ``{profile}``).
    text : str
        The template, with ``{parameter}`` placeholders.
    suffix : str
        The written file's suffix: the template's own (``look.pp3`` -> ``.pp3``; a last ``.in`` is
        dropped, ``look.pp3.in`` -> ``.pp3``), since programs tell formats by it.
    origin : str
        Where the template came from, for messages.

    Examples
    --------
    >>> profile = SettingsFile("profile", "[Exposure]\\nCompensation={ev:.2f}\\n", ".pp3")
    >>> profile.placeholders()
    ['ev']
    >>> profile.render({"ev": 0.5})
    '[Exposure]\\nCompensation=0.50\\n'
    """

    name: str
    text: str
    suffix: str = ".txt"
    origin: str = "the settings file"

    @classmethod
    def read(cls, name: str, path: str | Path) -> SettingsFile:
        """The template in the file at ``path``, for the command's ``{name}``."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise FilterFitError(f"settings file {path} is over 1 MB: give the settings file template, a text file")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FilterFitError(f"settings file not found: {path} (check the path)") from None
        except IsADirectoryError:
            raise FilterFitError(f"settings file {path} is a folder: give the template file") from None
        except UnicodeDecodeError:
            raise FilterFitError(f"settings file {path} is not UTF-8 text: give the settings file template") from None
        except OSError as error:
            raise FilterFitError(f"cannot read settings file {path}: {error.strerror}") from None
        suffixes = path.suffixes[-2:] if path.suffix == ".in" else path.suffixes[-1:]
        suffix = suffixes[0] if suffixes and suffixes[0] != ".in" else ".txt"
        settings = cls(name, text, suffix, str(path))
        settings.placeholders()  # braces that do not parse: said now, with the line
        return settings

    def placeholders(self) -> list[str]:
        """The parameters the template names, in order; a placeholder that is not a name is an error."""
        names: list[str] = []
        for number, line in enumerate(self.text.splitlines(), start=1):
            try:
                fields = list(string.Formatter().parse(line))
            except ValueError as error:
                raise TemplateError(
                    f"{self.origin} line {number} has unbalanced braces ({error}): write {{{{ and }}}} for literal "
                    "braces"
                ) from None
            for _, field, spec, _ in fields:
                if field is None:
                    continue
                if not field.isidentifier():
                    raise TemplateError(f"{self.origin} line {number}: placeholder {{{field}}} is not a parameter name")
                if "{" in (spec or ""):
                    raise TemplateError(
                        f"{self.origin} line {number}: placeholder {{{field}:{spec}}} nests braces in its format spec"
                    )
                names.append(field)
        return names

    def line_of(self, parameter: str) -> int:
        """The first line that names ``parameter`` (for messages)."""
        for number, line in enumerate(self.text.splitlines(), start=1):
            if any(field == parameter for _, field, _, _ in string.Formatter().parse(line)):
                return number
        return 0

    def render(self, params: Mapping[str, Any]) -> str:
        """The file's text with these values."""
        from .command import ValueFormatter  # one formatting of values for commands and files alike

        return ValueFormatter().vformat(self.text, (), dict(params))

    def write(self, params: Mapping[str, Any], folder: Path) -> Path:
        """The file written with these values into ``folder``, under a name of this process and thread."""
        path = folder / f"{self.name}-{os.getpid()}-{threading.get_ident()}{self.suffix}"
        path.write_text(self.render(params), encoding="utf-8")
        return path

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "suffix": self.suffix, "origin": self.origin}

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> SettingsFile:
        try:
            return cls(name, str(data["text"]), str(data.get("suffix", ".txt")), str(data.get("origin", name)))
        except (KeyError, TypeError):
            raise FilterFitError(f"result.json's settings file {name} is malformed: fit again") from None


def parse_settings_option(option: str) -> tuple[str, str]:
    """``--settings NAME=FILE`` as ``(NAME, FILE)``."""
    name, equals, path = option.partition("=")
    if not equals or not name.strip() or not path.strip():
        raise FilterFitError(f"--settings takes NAME=FILE (e.g. --settings profile=look.pp3), not {option!r}")
    if not name.strip().isidentifier():
        raise FilterFitError(f"--settings {option}: {name.strip()!r} is not a placeholder name like profile")
    return name.strip(), path.strip()


def settings_files(stored: Mapping[str, Any] | None) -> tuple[SettingsFile, ...]:
    """The settings files kept in result.json or a study's definition (``{name: SettingsFile.to_dict()}``)."""
    return tuple(SettingsFile.from_dict(name, data) for name, data in (stored or {}).items())
