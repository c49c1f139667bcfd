"""Photo editors driven through their own settings files: ``--editor rawtherapee``, ``darktable``, ``gimp``.

Modules:
    base         -- ``Editor`` (a program, its sliders, its settings file), ``Slider``, ``EditorFilter``
    rawtherapee  -- RawTherapee's sliders in its .pp3 profile, rendered by ``rawtherapee-cli``
    darktable    -- darktable's module parameters packed in an .xmp sidecar, rendered by ``darktable-cli``
    gimp         -- GIMP's colour tools called by a Script-Fu script (look.scm)
    script_fu    -- a GIMP kept running per worker, fed that script for each evaluation
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import FilterFitError
from .base import Editor, EditorFilter, Slider
from .darktable import DARKTABLE
from .gimp import GIMP
from .rawtherapee import RAWTHERAPEE

__all__ = ["EDITORS", "Editor", "EditorFilter", "Slider", "editor_filter", "get_editor"]

EDITORS: dict[str, Editor] = {editor.name: editor for editor in (RAWTHERAPEE, DARKTABLE, GIMP)}


def get_editor(name: str) -> Editor:
    """The editor called ``name``, or one line naming the editors there are."""
    editor = EDITORS.get(str(name).lower())
    if editor is None:
        raise FilterFitError(f"unknown editor {name!r}; the editors are {', '.join(EDITORS)}")
    return editor


def editor_filter(data: Mapping[str, Any], *, timeout: float = 60.0) -> EditorFilter:
    """The filter result.json's ``editor`` field describes (:meth:`EditorFilter.to_dict`)."""
    try:
        return get_editor(data["name"]).filter(list(data["sliders"]), timeout=timeout)
    except (KeyError, TypeError):
        raise FilterFitError(f"result.json's editor is malformed ({dict(data)!r:.80}): fit again") from None
