"""The public API is what ``filterfit.__all__`` re-exports; changing it is a decision, made here."""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import re

import pytest

import filterfit

PUBLIC = [
    "CommandFilter",
    "Filter",
    "FilterFitError",
    "FitResult",
    "FunctionFilter",
    "Image",
    "Look",
    "Metric",
    "Param",
    "Progress",
    "Space",
    "Strategy",
    "TrialRecord",
    "apply",
    "de2000",
    "fit",
    "load_image",
    "mae",
    "psnr",
    "register_strategy",
    "rmse",
    "ssim",
]


def test_all_is_pinned():
    assert filterfit.__all__ == PUBLIC
    assert PUBLIC == sorted(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_each_public_name_is_importable(name):
    value = getattr(filterfit, name)
    assert value is not None
    namespace: dict = {}
    exec(f"from filterfit import {name}", namespace)
    assert namespace[name] is value
    assert (value.__doc__ or "").strip(), f"{name} has no docstring"


def test_star_import_gives_exactly_the_public_names():
    namespace: dict = {}
    exec("from filterfit import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == PUBLIC


def _modules() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(filterfit.__path__) if not info.name.startswith("_"))


def test_the_package_docstring_maps_every_module():
    doc = filterfit.__doc__ or ""
    listed = re.findall(r"^ {4}(\w+) +-- ", doc, flags=re.MULTILINE)
    assert sorted(listed) == _modules()
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("module", _modules())
def test_every_module_imports(module):
    importlib.import_module(f"filterfit.{module}")


def test_the_version_matches_the_installed_metadata():
    assert filterfit.__version__ == importlib.metadata.version("filterfit")
