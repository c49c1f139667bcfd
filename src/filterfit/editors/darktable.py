"""darktable: its modules' parameters, packed into an .xmp sidecar, rendered by ``darktable-cli``.

darktable keeps each module's parameters in the .xmp as the bytes of the
module's C struct, in hex (``darktable:params="0000..."``), one history entry
per module. :class:`Module` spells out a struct field by field, as darktable
4.2 lays it out (``src/iop/*.c``, the ``dt_iop_*_params_t`` of the version
named); the fitted fields are ``{name:f32}`` placeholders (a 32-bit float's
bytes in hex, see :func:`filterfit.filters.command.format_value`) and every
other field is packed once, at the value that leaves the module neutral.

The history holds only the fitted modules and says that darktable's automatic
presets were applied already, so nothing else joins the pipeline: at neutral a
PNG or TIFF comes back exactly (color balance rgb's gamut mapping moves it by
about 0.3/255). ``--apply-custom-presets false`` keeps darktable's presets
database in memory, which lets several renders run at once, and ``--library
:memory:`` its library; its configuration and caches live in the RAM scratch.

Ranges are the sliders' (darktable's soft ranges, e.g. exposure -3 to +4 EV);
``--param`` may widen them to what the module accepts (``Slider.limits``).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from .base import Editor, Slider

__all__ = ["DARKTABLE", "MODULES", "style"]

# The blend parameters darktable 4.2 writes for each of these modules at their defaults (blending off),
# as read back from its own export: a history entry or a style carries them beside the module's parameters.
BLEND_VERSION = 11
BLEND_PARAMS = "gz10eJxjYGBgYAFiCQYYOOHEgAZY0QVwggZ7CB6pfOygYtaVAyCMi08IAAB/xiOk"
# The module order darktable 4.2 gives a newly imported photo (v3.0); an .xmp that names none is read in
# the legacy order, in which velvia comes elsewhere and a style would not render as the .xmp does.
IOP_ORDER = 2
STYLE_NAME = "filterfit look"


@dataclass(frozen=True)
class Field:
    """One field of a module's parameter struct: ``f`` a 32-bit float, ``i`` a 32-bit int; the value written
    when it is not fitted."""

    name: str
    kind: str
    value: float


@dataclass(frozen=True)
class Module:
    """A darktable module (its ``operation`` name and parameter version) and its struct, field by field."""

    operation: str
    version: int
    fields: tuple[Field, ...]

    def params(self, fitted: Mapping[str, Slider]) -> str:
        """The struct in hex, with the placeholder of each field a slider in ``fitted`` stands for."""
        parts = []
        for field in self.fields:
            slider = fitted.get(field.name)
            if slider is not None:
                parts.append(slider.placeholder)
            else:
                parts.append(struct.pack("<f" if field.kind == "f" else "<i", _packable(field)).hex())
        return "".join(parts)


def _packable(field: Field) -> float | int:
    return float(field.value) if field.kind == "f" else int(field.value)


def _floats(*pairs: tuple[str, float]) -> tuple[Field, ...]:
    return tuple(Field(name, "f", value) for name, value in pairs)


def _ints(*pairs: tuple[str, int]) -> tuple[Field, ...]:
    return tuple(Field(name, "i", value) for name, value in pairs)


# The rgb curve: five nodes on the first (linked) channel, at x = 0, 1/4, 1/2, 3/4, 1; the ends stay put.
CURVE_X = (0.0, 0.25, 0.5, 0.75, 1.0)
CURVE_NODES = 20  # DT_IOP_RGBCURVE_MAXNODES
MONOTONE_HERMITE = 2


def _curve_fields() -> tuple[Field, ...]:
    fields: list[Field] = []
    for channel in range(3):
        for node in range(CURVE_NODES):
            x = CURVE_X[node] if node < len(CURVE_X) else 0.0
            fields += _floats((f"curve_nodes[{channel}][{node}].x", x), (f"curve_nodes[{channel}][{node}].y", x))
    fields += _ints(*((f"curve_num_nodes[{channel}]", len(CURVE_X)) for channel in range(3)))
    fields += _ints(*((f"curve_type[{channel}]", MONOTONE_HERMITE) for channel in range(3)))
    # linked channels (DT_S_SCALE_AUTOMATIC_RGB), no middle-grey compensation, colours not preserved:
    # the classic curve that acts on each channel.
    fields += _ints(("curve_autoscale", 0), ("compensate_middle_grey", 0), ("preserve_colors", 0))
    return tuple(fields)


EXPOSURE = Module(
    "exposure",
    6,
    _ints(("mode", 0))
    + _floats(("black", 0.0), ("exposure", 0.0), ("deflicker_percentile", 50.0), ("deflicker_target_level", -4.0))
    + _ints(("compensate_exposure_bias", 0)),
)
# dt_iop_colorbalancergb_params_t v5: 32 floats, all 0 at neutral but these, then the saturation formula.
COLOR_BALANCE_FLOATS = (
    "shadows_Y shadows_C shadows_H midtones_Y midtones_C midtones_H highlights_Y highlights_C highlights_H "
    "global_Y global_C global_H shadows_weight white_fulcrum highlights_weight chroma_shadows chroma_highlights "
    "chroma_global chroma_midtones saturation_global saturation_highlights saturation_midtones saturation_shadows "
    "hue_angle brilliance_global brilliance_highlights brilliance_midtones brilliance_shadows mask_grey_fulcrum "
    "vibrance grey_fulcrum contrast"
).split()
COLOR_BALANCE_NONZERO = {
    "shadows_weight": 1.0,
    "highlights_weight": 1.0,
    "mask_grey_fulcrum": 0.1845,
    "grey_fulcrum": 0.1845,
}
COLOR_BALANCE_RGB = Module(
    "colorbalancergb",
    5,
    _floats(*((name, COLOR_BALANCE_NONZERO.get(name, 0.0)) for name in COLOR_BALANCE_FLOATS))
    + _ints(("saturation_formula", 1)),  # darktable UCS (2022), the default of a new instance
)
VELVIA = Module("velvia", 2, _floats(("strength", 0.0), ("bias", 1.0)))
VIGNETTE = Module(
    "vignette",
    4,
    _floats(("scale", 80.0), ("falloff_scale", 50.0), ("brightness", 0.0), ("saturation", 0.0))
    + _floats(("center.x", 0.0), ("center.y", 0.0))
    + _ints(("autoratio", 0))
    + _floats(("whratio", 1.0), ("shape", 1.0))
    + _ints(("dithering", 0), ("unbound", 1)),
)
RGB_CURVE = Module("rgbcurve", 1, _curve_fields())
MODULES = {module.operation: module for module in (EXPOSURE, COLOR_BALANCE_RGB, VELVIA, VIGNETTE, RGB_CURVE)}


Limits = tuple[float, float] | None


def _slider(
    name: str, module: Module, field: str, low: float, high: float, label: str, limits: Limits = None
) -> Slider:
    neutral = next(f.value for f in module.fields if f.name == field)
    return Slider(name, module.operation, field, low, high, neutral, label, spec="f32", limits=limits)


SLIDERS = (
    _slider("exposure_exposure", EXPOSURE, "exposure", -3, 4, "exposure: exposure (EV)", (-18, 18)),
    _slider("exposure_black", EXPOSURE, "black", -0.1, 0.1, "exposure: black level correction", (-1, 1)),
    *(
        _slider(f"colorbalancergb_{name}", COLOR_BALANCE_RGB, key, -0.5, 0.5, f"color balance rgb: {label}", (-1, 1))
        for name, key, label in (
            ("vibrance", "vibrance", "global vibrance"),
            ("contrast", "contrast", "contrast"),
            ("chroma", "chroma_global", "global chroma"),
            ("saturation", "saturation_global", "global saturation"),
            ("shadows_luminance", "shadows_Y", "shadows lift luminance"),
            ("highlights_luminance", "highlights_Y", "highlights gain luminance"),
        )
    ),
    _slider("velvia_strength", VELVIA, "strength", 0, 100, "velvia: strength (%)"),
    _slider("velvia_bias", VELVIA, "bias", 0, 1, "velvia: mid-tones bias"),
    _slider("vignette_brightness", VIGNETTE, "brightness", -1, 1, "vignetting: brightness"),
    _slider("vignette_saturation", VIGNETTE, "saturation", -1, 1, "vignetting: saturation"),
    _slider("vignette_scale", VIGNETTE, "scale", 0, 100, "vignetting: fall-off start (%)", (0, 200)),
    _slider("vignette_falloff_scale", VIGNETTE, "falloff_scale", 0, 100, "vignetting: fall-off radius (%)", (0, 200)),
    _slider("rgbcurve_shadows", RGB_CURVE, "curve_nodes[0][1].y", 0, 0.5, "rgb curve: node at 25 %"),
    _slider("rgbcurve_midtones", RGB_CURVE, "curve_nodes[0][2].y", 0.25, 0.75, "rgb curve: node at 50 %"),
    _slider("rgbcurve_highlights", RGB_CURVE, "curve_nodes[0][3].y", 0.5, 1, "rgb curve: node at 75 %"),
)  # fmt: skip

DEFAULT = (
    "exposure_exposure", "exposure_black", "colorbalancergb_vibrance", "colorbalancergb_contrast",
    "colorbalancergb_chroma", "colorbalancergb_saturation", "velvia_strength", "vignette_brightness",
    "vignette_scale", "rgbcurve_shadows", "rgbcurve_midtones", "rgbcurve_highlights",
)  # fmt: skip


def command(output_format: str, bit_depth: int) -> str:
    """``darktable-cli INPUT XMP OUTPUT``: the presets database and the library in memory, the target's depth."""
    depth = f"--conf plugins/imageio/format/{'tiff' if output_format == 'tiff' else 'png'}/bpp={bit_depth}"
    return f"darktable-cli {{input}} {{look}} {{output}} --apply-custom-presets false --core --library :memory: {depth}"


def _history(sliders: Sequence[Slider]) -> list[tuple[Module, str]]:
    """Each module a slider belongs to, with its parameters' template (darktable orders the pipeline itself)."""
    entries = []
    for module in MODULES.values():
        fitted = {slider.key: slider for slider in sliders if slider.section == module.operation}
        if fitted:
            entries.append((module, module.params(fitted)))
    return entries


def sidecar(sliders: Sequence[Slider]) -> str:
    """The .xmp template: one history entry per module, no automatic presets."""
    entries = _history(sliders)
    items = "\n".join(
        f'     <rdf:li darktable:num="{number}" darktable:operation="{module.operation}" darktable:enabled="1"'
        f' darktable:modversion="{module.version}" darktable:params="{params}" darktable:multi_name=""'
        f' darktable:multi_priority="0" darktable:blendop_version="{BLEND_VERSION}"'
        f' darktable:blendop_params="{BLEND_PARAMS}"/>'
        for number, (module, params) in enumerate(entries)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:darktable="http://darktable.sf.net/"
   darktable:xmp_version="5" darktable:raw_params="0" darktable:auto_presets_applied="1"
   darktable:history_end="{len(entries)}" darktable:iop_order_version="{IOP_ORDER}">
   <darktable:history>
    <rdf:Seq>
{items}
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def style(sliders: Sequence[Slider]) -> str:
    """The .dtstyle template: the same modules as a style, to import in darktable's styles module."""
    plugins = "\n".join(
        f"""  <plugin>
   <num>{number}</num>
   <module>{module.version}</module>
   <operation>{module.operation}</operation>
   <op_params>{params}</op_params>
   <enabled>1</enabled>
   <blendop_params>{BLEND_PARAMS}</blendop_params>
   <blendop_version>{BLEND_VERSION}</blendop_version>
   <multi_priority>0</multi_priority>
   <multi_name></multi_name>
  </plugin>"""
        for number, (module, params) in enumerate(_history(sliders))
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<darktable_style version="1.0">
 <info>
  <name>{escape(STYLE_NAME)}</name>
  <description>fitted by filterfit</description>
 </info>
 <style>
{plugins}
 </style>
</darktable_style>
"""


DARKTABLE = Editor(
    name="darktable",
    title="darktable",
    program="darktable-cli",
    sliders=SLIDERS,
    default=DEFAULT,
    suffix=".xmp",
    command=command,
    settings=sidecar,
    reads=("png", "tiff", "jpeg", "raw"),
    extra_files={".dtstyle": style},
)
