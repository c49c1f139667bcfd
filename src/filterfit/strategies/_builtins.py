"""Registers the built-in strategies, the way a user's plugin would register its own."""

from __future__ import annotations

from functools import partial

from .auto import AutoStrategy
from .base import register_strategy
from .samplers import SamplerStrategy

register_strategy("auto", AutoStrategy)
for _name in ("tpe", "cmaes", "qmc", "random", "gp"):
    register_strategy(_name, partial(SamplerStrategy, name=_name))


def _benderopt(*args, **kwargs):  # imported late: benderopt is an optional extra
    from .benderopt import BenderoptStrategy

    return BenderoptStrategy(*args, **kwargs)


register_strategy("benderopt", _benderopt)
