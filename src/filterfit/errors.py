"""The exceptions filterfit raises.

Every error a user can cause derives from :class:`FilterFitError`; specific
errors also derive from the builtin they refine, so ``except ValueError``
keeps working for callers who do not know filterfit. Messages are one line
that names the problem and, where there is one, the fix.
"""

from __future__ import annotations


class FilterFitError(Exception):
    """Base class of every error filterfit raises on purpose."""


class ImageError(FilterFitError, ValueError):
    """An image cannot be read, or images do not fit together."""


class ParamError(FilterFitError, ValueError):
    """A search-space parameter is malformed or out of its rules."""


class TemplateError(FilterFitError, ValueError):
    """A command template is malformed or names unknown parameters."""


class CommandNotFoundError(FilterFitError, FileNotFoundError):
    """The program a command template runs is not installed."""


class MetricError(FilterFitError, ValueError):
    """An unknown metric name or an unusable metric option."""


class StrategyError(FilterFitError, ValueError):
    """An unknown strategy or one whose optional back-end is missing."""


class MissingExtraError(FilterFitError, ImportError):
    """An optional back-end is needed but its package is not installed."""


class EvaluationError(FilterFitError, RuntimeError):
    """One evaluation failed; the run records it as a failed trial and goes on."""


class AllEvaluationsFailedError(FilterFitError, RuntimeError):
    """Every evaluation of a run failed, so there is no answer to give."""


class InterruptedBeforeAnswerError(AllEvaluationsFailedError):
    """Ctrl-C came before any evaluation finished, so there is no answer yet."""
