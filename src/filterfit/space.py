"""The search space: named float, int, log-scaled, stepped and choice parameters.

The command-line grammar (one ``--param`` each)::

    radius=0:100          float in [0, 100]
    radius=0:100:int      integer
    sigma=0.1:50:log      float searched on a log scale
    q=1:9:step=2          float on a grid of step 2 (int grid if all are integers)
    mode=a,b,c            one of the listed choices

Numeric parameters also map to and from the unit interval, which is where the
``auto`` strategy does its geometry.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna.distributions as od

from .errors import ParamError

__all__ = ["Param", "Space", "as_space", "parse_param"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KINDS = ("float", "int", "choice")


@dataclass(frozen=True)
class Param:
    """One parameter of the search space.

    Examples
    --------
    >>> Param("sigma", low=0.1, high=50, log=True).from_unit(0.5)
    2.23606797749979
    """

    name: str
    low: float = 0.0
    high: float = 1.0
    kind: str = "float"
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ParamError(
                f"parameter name must be letters, digits and _ (not starting with a digit), but got {self.name!r}"
            )
        if self.kind not in KINDS:
            raise ParamError(f"parameter {self.name}: kind must be one of {', '.join(KINDS)}, but got {self.kind!r}")
        if self.kind == "choice":
            if not self.choices:
                raise ParamError(f"parameter {self.name}: a choice needs at least one value")
            if len(set(map(str, self.choices))) != len(self.choices):
                raise ParamError(f"parameter {self.name}: choices must be distinct, but got {list(self.choices)}")
            return
        self._check_numbers()

    def _check_numbers(self) -> None:
        name, low, high = self.name, self.low, self.high
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ParamError(f"parameter {name}: bounds must be finite, but got (low={low}, high={high})")
        if low > high:
            raise ParamError(f"parameter {name}: `low <= high` must hold, but got (low={low}, high={high})")
        if self.log and low <= 0:
            raise ParamError(f"parameter {name}: a log scale needs `low > 0`, but got low={low}")
        if self.step is not None:
            if not self.step > 0:
                raise ParamError(f"parameter {name}: `step > 0` must hold, but got step={self.step}")
            if self.log:
                raise ParamError(f"parameter {name}: log and step cannot be combined (optuna forbids it)")
        if self.kind == "int" and (low != int(low) or high != int(high)):
            raise ParamError(
                f"parameter {name}: an int parameter needs integer bounds, but got (low={low}, high={high})"
            )
        if self.kind == "int" and self.step is not None and self.step != int(self.step):
            raise ParamError(f"parameter {name}: an int parameter needs an integer step, but got step={self.step}")

    @property
    def numeric(self) -> bool:
        return self.kind != "choice"

    @property
    def spec(self) -> str:
        """The parameter written back in the ``--param`` grammar."""
        if self.kind == "choice":
            return f"{self.name}={','.join(map(str, self.choices))}"
        text = f"{self.name}={_number(self.low)}:{_number(self.high)}"
        if self.kind == "int":
            text += ":int"
        if self.log:
            text += ":log"
        if self.step is not None and not (self.kind == "int" and self.step == 1):
            text += f":step={_number(self.step)}"
        return text

    def distribution(self) -> od.BaseDistribution:
        """The Optuna distribution for this parameter."""
        if self.kind == "choice":
            return od.CategoricalDistribution(self.choices)
        with warnings.catch_warnings():
            # q=0:1:step=0.3: Optuna ends the grid at 0.9 and warns; snap() ends it there too, on purpose.
            warnings.filterwarnings("ignore", message=r".*the range is not divisible by `step`")
            if self.kind == "int":
                step = 1 if self.step is None else int(self.step)
                return od.IntDistribution(int(self.low), int(self.high), log=self.log, step=step)
            return od.FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def to_unit(self, value: float) -> float:
        """Map a value to [0, 1] (on a log scale for log parameters)."""
        if self.high == self.low:
            return 0.5
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (float(value) - self.low) / (self.high - self.low)

    def from_unit(self, unit: float) -> float | int:
        """Map a point of [0, 1] back to a legal value (rounded to int or step)."""
        unit = min(1.0, max(0.0, float(unit)))
        if self.log:
            value = math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + unit * (self.high - self.low)
        return self.snap(value)

    def snap(self, value: float) -> float | int:
        """The legal value nearest to ``value``."""
        value = min(self.high, max(self.low, float(value)))
        step = self.step if self.step is not None else (1 if self.kind == "int" else None)
        if step is not None:
            last = math.floor((self.high - self.low) / step + 1e-9)  # the grid may end below high
            value = min(self.high, self.low + min(round((value - self.low) / step), last) * step)
        if self.kind == "int":
            return int(round(value))
        return float(value)

    @property
    def resolution(self) -> float:
        """The smallest meaningful move in unit coordinates (0 for continuous)."""
        step = self.step if self.step is not None else (1 if self.kind == "int" else None)
        if step is None or self.high == self.low or self.log:
            return 0.0 if step is None else 1.0 / max(1, self.high - self.low)
        return step / (self.high - self.low)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def parse_param(text: str) -> Param:
    """Parse one ``--param`` string, e.g. ``"sigma=0.1:50:log"``.

    Examples
    --------
    >>> parse_param("radius=0:100:int")
    Param(name='radius', low=0.0, high=100.0, kind='int', log=False, step=None, choices=())
    """
    name, sep, rule = text.partition("=")
    name = name.strip()
    if not sep or not name or not rule.strip():
        raise ParamError(f"--param must look like name=LOW:HIGH[:int|:log|:step=S] or name=a,b,c, but got {text!r}")
    if ":" not in rule:
        choices = tuple(_choice(part.strip()) for part in rule.split(","))
        if len(choices) < 2 and "," not in rule:
            raise ParamError(
                f"--param {name}: expected LOW:HIGH or a list a,b,c, but got {rule!r} "
                f"(a single value is a constant: write it into the command instead)"
            )
        return Param(name, kind="choice", choices=choices)
    low_text, high_text, *modifiers = (part.strip() for part in rule.split(":"))
    low, high = _bound(name, "LOW", low_text), _bound(name, "HIGH", high_text)
    kind, log, step = "float", False, None
    for modifier in modifiers:
        if modifier == "int":
            kind = "int"
        elif modifier == "log":
            log = True
        elif modifier.startswith("step="):
            step = _bound(name, "step", modifier[5:])
        else:
            raise ParamError(f"--param {name}: unknown modifier {modifier!r}; valid ones are int, log, step=S")
    if kind == "float" and step is not None and all(float(v).is_integer() for v in (low, high, step)):
        kind = "int"  # q=1:9:step=2 means the odd integers, so templates print 3 not 3.0
    return Param(name, low=low, high=high, kind=kind, log=log, step=step)


def _bound(name: str, what: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParamError(f"--param {name}: {what} must be a number, but got {text!r}") from None
    if not math.isfinite(value):
        raise ParamError(f"--param {name}: {what} must be finite, but got {text!r}")
    return value


def _choice(text: str) -> Any:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


class Space(Sequence[Param]):
    """An ordered, named set of :class:`Param`.

    Examples
    --------
    >>> space = Space.parse(["radius=0:100", "sigma=0:100"])
    >>> space.names
    ('radius', 'sigma')
    """

    def __init__(self, params: Iterable[Param]) -> None:
        self._params = tuple(params)
        if not self._params:
            raise ParamError("the search space is empty: give at least one --param name=LOW:HIGH")
        names = [p.name for p in self._params]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ParamError(f"each parameter must be given once, but got {', '.join(duplicated)} twice")

    @classmethod
    def parse(cls, texts: Iterable[str]) -> Space:
        return cls(parse_param(text) for text in texts)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str):
            return self._by_name()[index]
        return self._params[index]

    def _by_name(self) -> dict[str, Param]:
        return {p.name: p for p in self._params}

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[Param]:
        return iter(self._params)

    def __repr__(self) -> str:
        return f"Space([{', '.join(repr(p.spec) for p in self._params)}])"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self._params)

    @property
    def numeric(self) -> tuple[Param, ...]:
        return tuple(p for p in self._params if p.numeric)

    def distributions(self) -> dict[str, od.BaseDistribution]:
        return {p.name: p.distribution() for p in self._params}

    def specs(self) -> list[str]:
        return [p.spec for p in self._params]


def as_space(space: Space | Mapping[str, Any] | Iterable[str | Param]) -> Space:
    """Normalise what a caller passes as a space.

    Accepts a :class:`Space`, ``--param`` strings, :class:`Param` objects, or a
    mapping ``{"radius": (0, 100), "mode": ["a", "b"], "sigma": "0.1:50:log"}``.
    """
    if isinstance(space, Space):
        return space
    if isinstance(space, Mapping):
        return Space(_param_from_item(name, rule) for name, rule in space.items())
    if isinstance(space, str):
        return Space.parse([space])
    return Space(p if isinstance(p, Param) else parse_param(p) for p in space)


def _param_from_item(name: str, rule: Any) -> Param:
    if isinstance(rule, Param):
        return rule
    if isinstance(rule, str):
        return parse_param(f"{name}={rule}")
    if isinstance(rule, tuple) and len(rule) == 2 and all(isinstance(v, (int, float)) for v in rule):
        return Param(name, low=float(rule[0]), high=float(rule[1]))  # like the CLI's LOW:HIGH
    if isinstance(rule, (list, tuple)):
        return Param(name, kind="choice", choices=tuple(rule))
    raise ParamError(
        f"parameter {name}: expected (low, high), a list of choices or a 'LOW:HIGH' string, but got {rule!r}"
    )
