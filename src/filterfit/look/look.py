"""A look: an ordered selection of adjustments with values, usable as a filter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FilterFitError, ParamError
from ..images import to_float
from ..space import Param, Space
from .adjustments import ADJUSTMENTS, GRADIENTS, frame_coordinates, from_planes, grain_noise, radius_map, to_planes

if TYPE_CHECKING:
    from ..images import Image

__all__ = ["DEFAULT_ADJUSTMENTS", "Look", "LookError", "as_look"]

# The default set: 12 parameters that describe most "Instagram" looks and that a before/after pair
# pins down (vibrance, hue, sepia, grain, blur and sharpen are there on request).
DEFAULT_ADJUSTMENTS = (
    "exposure",
    "temperature",
    "tint",
    "highlights",
    "shadows",
    "contrast",
    "saturation",
    "split_tone",
    "fade",
    "vignette",
)
FORMAT = 1  # the version of to_dict()'s layout


class LookError(FilterFitError, ValueError):
    """An unknown adjustment, or a look parameter out of its range."""


class Look:
    """filterfit's own photo-adjustment pipeline, as a filter that ``fit()`` can fit.

    Parameters
    ----------
    adjustments : sequence of str, optional
        Names from :data:`~filterfit.look.adjustments.ADJUSTMENTS` (a string
        ``"exposure,contrast"`` works too); None is the default set of 12
        parameters. They run in the pipeline's fixed order, whatever order
        they are named in.
    params : mapping, optional
        Values of the look's parameters (full names, e.g. ``vignette_amount``);
        the others are neutral.
    seed : int
        The grain's noise field.
    preview : bool
        Let ``fit()`` search at reduced resolution first (see
        :mod:`filterfit.fidelity.preview`).
    chosen : mapping, optional
        How ``look="auto"`` chose the adjustments (:class:`~filterfit.look.choose.Choice` as a
        dict); kept in :meth:`to_dict` so that result.json says why the look is made of them.

    Examples
    --------
    >>> import numpy as np
    >>> look = Look(["exposure", "vignette"], {"exposure": 0.5})
    >>> look.space().names
    ('exposure', 'vignette_amount', 'vignette_size', 'vignette_softness')
    >>> look.apply(np.full((4, 4, 3), 0.25, dtype=np.float32))[0, 0, 0].round(4)
    np.float32(0.3536)
    """

    def __init__(
        self,
        adjustments: Sequence[str] | str | None = None,
        params: Mapping[str, float] | None = None,
        *,
        seed: int = 0,
        preview: bool = True,
        chosen: Mapping[str, Any] | None = None,
    ) -> None:
        self._adjustments = _normalise(adjustments)
        self.seed = int(seed)
        self.preview = preview
        self.chosen = dict(chosen) if chosen is not None else None
        self._params = {s.name: s.neutral for s in self._settings()}
        self._params.update(self._checked(params or {}))

    def _settings(self) -> list[Any]:
        return [s for name in self._adjustments for s in ADJUSTMENTS[name].settings]

    def _checked(self, params: Mapping[str, Any]) -> dict[str, float]:
        settings = {s.name: s for s in self._settings()}
        unknown = [name for name in params if name not in settings]
        if unknown:
            raise LookError(
                f"this look has no parameter {', '.join(map(repr, unknown))}; its parameters are {', '.join(settings)}"
            )
        checked = {}
        for name, value in params.items():
            setting = settings[name]
            value = float(value)
            if not setting.low - 1e-9 <= value <= setting.high + 1e-9:
                raise LookError(f"look parameter {name} must be in [{setting.low}, {setting.high}], but got {value}")
            checked[name] = value
        return checked

    @property
    def adjustments(self) -> tuple[str, ...]:
        """The adjustments, in the order they are applied."""
        return self._adjustments

    @property
    def params(self) -> dict[str, float]:
        """Every parameter's value (a copy), neutral unless set."""
        return dict(self._params)

    def space(self) -> Space:
        """The search space: every parameter over its documented range."""
        return Space(Param(s.name, low=s.low, high=s.high) for s in self._settings())

    def with_params(self, params: Mapping[str, Any]) -> Look:
        """The same look with some parameters set."""
        return Look(
            self._adjustments, {**self._params, **params}, seed=self.seed, preview=self.preview, chosen=self.chosen
        )

    @property
    def per_pixel(self) -> bool:
        """True when ``fit()`` may search a strided preview: preview is on and no adjustment reads neighbours."""
        return self.preview and not any(ADJUSTMENTS[name].kind == "neighbourhood" for name in self._adjustments)

    def colour_part(self) -> Look:
        """Only the per-pixel colour adjustments (what a 3D LUT can hold)."""
        kept = [name for name in self._adjustments if not ADJUSTMENTS[name].spatial]
        return self._subset(kept)

    def spatial_adjustments(self) -> tuple[str, ...]:
        """The adjustments that depend on position or neighbours (a LUT cannot hold them)."""
        return tuple(name for name in self._adjustments if ADJUSTMENTS[name].spatial)

    def _subset(self, names: Sequence[str]) -> Look:
        if not names:
            return _Empty(seed=self.seed)
        settings = {s.name for name in names for s in ADJUSTMENTS[name].settings}
        params = {k: v for k, v in self._params.items() if k in settings}
        return Look(names, params, seed=self.seed, preview=self.preview)

    def apply(self, pixels: np.ndarray, params: Mapping[str, Any] | None = None) -> np.ndarray:
        """Render the look on RGB pixels (float32 H x W x 3 in [0, 1]; uint8/uint16 are converted)."""
        return self._render(to_float(pixels), params or {}, stride=1, full=None)

    def _render(
        self, pixels: np.ndarray, params: Mapping[str, Any], *, stride: int, full: tuple[int, int] | None
    ) -> np.ndarray:
        colour, alpha = _split(pixels)
        output = self._run(colour, {**self._params, **params}, stride=stride, full=full or colour.shape[:2])
        return output if alpha is None else np.concatenate([output, alpha], axis=2)

    def _run(self, pixels: np.ndarray, values: Mapping[str, Any], *, stride: int, full: tuple[int, ...]) -> np.ndarray:
        """The pipeline on ``pixels``, which are every ``stride``-th pixel of an image of size ``full``."""
        planes = to_planes(pixels)
        for name in self._adjustments:
            adjustment = ADJUSTMENTS[name]
            arguments = [float(values[s.name]) for s in adjustment.settings]
            if adjustment.does_nothing(arguments):
                continue  # e.g. its strength setting is neutral: it would change nothing
            extra: dict[str, Any] = {}
            if name == "vignette":
                extra["radius"] = radius_map(full[0], full[1], stride)
            elif name == "grain":
                extra["noise"] = grain_noise(self.seed, full[0], full[1], stride)
            elif name in GRADIENTS:
                extra["frame"] = frame_coordinates(full[0], full[1], stride)
            planes = adjustment.planes(planes, *arguments, **extra)
        return from_planes(planes)

    # -- the Filter protocol ------------------------------------------------

    def render(self, image: Image, params: Mapping[str, Any]) -> np.ndarray:
        # A PreviewImage (fidelity/preview.py) holds every stride-th pixel of a larger image: vignette and grain need
        # its full size.
        stride = getattr(image, "stride", 1)
        full = (getattr(image, "full_height", 0), getattr(image, "full_width", 0)) if stride > 1 else None
        return self._render(image.pixels, params, stride=stride, full=full)

    def check(self, space: Space) -> None:
        unknown = [name for name in space.names if name not in self._params]
        if unknown:
            raise ParamError(
                f"the look has no parameter {', '.join(unknown)}; its parameters are {', '.join(self._params)}"
            )

    def prepare(self, sources: Sequence[Image], target: Image, *, single_thread: bool) -> Look:
        return self

    def describe(self) -> str:
        return f"look {','.join(self._adjustments)}"

    # -- result.json ----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """What result.json stores so that the look can be rebuilt with :meth:`from_dict`."""
        data = {"format": FORMAT, "adjustments": list(self._adjustments), "params": self.params, "seed": self.seed}
        return data if self.chosen is None else {**data, "chosen": self.chosen}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Look:
        """Rebuild a look from :meth:`to_dict`'s output."""
        if not isinstance(data, Mapping) or "adjustments" not in data:
            raise LookError(f"a look needs a mapping with 'adjustments' and 'params', but got {data!r:.80}")
        if data.get("format", FORMAT) != FORMAT:
            raise LookError(f"look format {data['format']!r} is not supported (this filterfit reads {FORMAT})")
        return cls(
            data["adjustments"], data.get("params") or {}, seed=int(data.get("seed", 0)), chosen=data.get("chosen")
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Look) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self._adjustments, tuple(sorted(self._params.items())), self.seed))

    def __repr__(self) -> str:
        changed = {k: round(v, 4) for k, v in self._params.items() if v != _neutral(k)}
        return f"Look({list(self._adjustments)!r}, {changed!r})"


class _Empty(Look):
    """A look with no adjustment: what colour_part() returns for a purely spatial look."""

    def __init__(self, *, seed: int = 0) -> None:
        self._adjustments, self.seed, self.preview, self._params, self.chosen = (), seed, False, {}, None

    def space(self) -> Space:
        raise LookError("this look has no adjustment, so nothing to fit")


def _neutral(name: str) -> float:
    return next(s.neutral for a in ADJUSTMENTS.values() for s in a.settings if s.name == name)


def _normalise(adjustments: Sequence[str] | str | None) -> tuple[str, ...]:
    if adjustments is None:
        return DEFAULT_ADJUSTMENTS
    if isinstance(adjustments, str):
        adjustments = [part for part in adjustments.split(",")]
    names = [str(name).strip() for name in adjustments if str(name).strip()]  # "a,,b" and "," hold empty names
    unknown = [name for name in names if name not in ADJUSTMENTS]
    if unknown:
        raise LookError(
            f"unknown look adjustment {', '.join(map(repr, unknown))}; valid ones are {', '.join(ADJUSTMENTS)}"
        )
    if not names:
        raise LookError(f"a look needs at least one adjustment; valid ones are {', '.join(ADJUSTMENTS)}")
    return tuple(name for name in ADJUSTMENTS if name in names)  # the pipeline's order, each once


def _split(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB to adjust, and the alpha channel to put back (grey is adjusted as RGB)."""
    channels = pixels.shape[2]
    colour = pixels[:, :, :-1] if channels in (2, 4) else pixels
    alpha = pixels[:, :, -1:] if channels in (2, 4) else None
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    return colour, alpha


def as_look(look: Look | Sequence[str] | str | bool | None) -> Look | None:
    """Normalise what a caller passes as ``look=``: a Look, names, ``"exposure,contrast"``, True (default set).

    ``"auto"`` is chosen from the images (:func:`filterfit.look.choose.choose_look`): not here.
    """
    if look is None or look is False:
        return None
    if look == "auto":
        raise LookError("look='auto' is chosen from the pairs: give it to fit(), which has them")
    if isinstance(look, Look):
        return look
    if look is True or look == "" or look == "default":
        return Look()
    return Look(look)
