"""A Python function as a filter: ``f(image, **params) -> image``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EvaluationError, ImageError, ParamError
from ..images import to_float

if TYPE_CHECKING:
    from ..images import Image
    from ..space import Space

__all__ = ["FunctionFilter"]


@dataclass(frozen=True)
class FunctionFilter:
    """Wrap ``function(pixels, **params)`` as a filter.

    The function receives float32 pixels H x W x C in [0, 1] (do not modify
    them in place) and returns an array of the same height and width: float
    in [0, 1], uint8 or uint16. An exception it raises is a failed evaluation.

    Examples
    --------
    >>> import numpy as np
    >>> brighten = FunctionFilter(lambda image, gain: image * gain)
    >>> brighten.describe()
    'python function <lambda>'
    """

    function: Callable[..., Any]

    def render(self, image: Image, params: Mapping[str, Any]) -> np.ndarray:
        try:
            output = self.function(image.pixels, **params)
        except Exception as error:  # a user's function may raise anything: a failed evaluation
            raise EvaluationError(f"{type(error).__name__}: {error}") from error
        output = np.asarray(output)
        # Before to_float: its clipping would turn infinities into 0 or 1.
        if np.issubdtype(output.dtype, np.floating) and not np.isfinite(output).all():
            raise EvaluationError("the function returned NaN or infinite pixels")
        try:
            return to_float(output)
        except ImageError as error:
            raise EvaluationError(f"the function returned an unusable image: {error}") from None

    def check(self, space: Space) -> None:
        try:
            signature = inspect.signature(self.function)
        except (TypeError, ValueError):  # builtins without a signature: trust the caller
            return
        takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        named = list(signature.parameters)[1:]  # the first one receives the image
        unknown = [name for name in space.names if name not in named]
        if unknown and not takes_any:
            raise ParamError(
                f"the function {self.describe()[16:]} takes no parameter named {', '.join(unknown)}; "
                f"its parameters are {', '.join(named) or 'none'}"
            )

    def prepare(self, sources: Sequence[Image], target: Image, *, single_thread: bool) -> FunctionFilter:
        return self

    def describe(self) -> str:
        name = getattr(self.function, "__qualname__", None) or type(self.function).__name__
        return f"python function {name}"
