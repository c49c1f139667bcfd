"""Filters: the black boxes filterfit fits (command templates, Python functions)."""

from .base import Filter, as_filter
from .command import CommandFilter
from .function import FunctionFilter

__all__ = ["CommandFilter", "Filter", "FunctionFilter", "as_filter"]
