"""Use what was fitted: rebuild the filter a result describes and apply it to photos.

A result rebuilds to a :class:`Fitted`, the small interface ``apply`` and
``export`` work against: a callable that renders an image, the same for the
filter's per-pixel colour part alone, and the names of the parts that are not
per-pixel when the filter knows them (a look does; a command template does
not, and ``export`` finds out by rendering probes).

Outputs are written upright: a photo whose EXIF orientation says "rotate" is
turned first (as viewers show it), filtered, and saved with orientation 1,
so it displays as its input does.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .editors import editor_filter
from .errors import FilterFitError
from .filters import as_filter
from .filters.settings_file import settings_files
from .images import MAX_PIXELS, Image, load_image, match_channels, quantize, save_image, to_float
from .outputs import prepare_folder
from .result import FitResult
from .space import Space

if TYPE_CHECKING:
    from .filters import Filter
    from .pairs import ImageLike

__all__ = ["Applied", "Fitted", "apply", "apply_to_files", "look_fitted", "rebuild"]

Render = Callable[[Image], np.ndarray]
ORIENTATION = 0x0112  # the EXIF tag
LOSSLESS_SUFFIXES = frozenset({".png", ".tif", ".tiff", ".ppm", ".pgm", ".pam", ".pnm"})


@dataclass(frozen=True)
class Fitted:
    """A fitted filter, ready to render.

    Parameters
    ----------
    description : str
        One line: the command template, or the look's adjustments.
    render : callable
        ``render(image) -> pixels``: float32 H x W x C in [0, 1], the image's
        own channels.
    colour : callable
        The per-pixel colour part alone (what a LUT can hold); ``render``
        itself when the filter cannot be split.
    spatial : tuple of str or None
        Names of the parts a LUT cannot hold (vignette, grain, blur ...);
        None when the filter does not know, and only rendering probes can tell.
    """

    description: str
    render: Render
    colour: Render
    spatial: tuple[str, ...] | None = None


def rebuild(
    result: FitResult, *, filter: Filter | str | Callable[..., Any] | None = None, single_thread: bool = False
) -> Fitted:
    """The filter ``result`` describes, with its best parameters filled in.

    Parameters
    ----------
    result : FitResult
        What :func:`filterfit.fit` returned or :meth:`FitResult.load` read.
    filter : command template, function or Filter, optional
        The filter to use instead of the one result.json names; needed for a
        Python function, which result.json cannot hold.
    single_thread : bool
        Limit an external program to one thread (several photos at once).
    """
    look = getattr(result, "look", None)  # result.json's optional "look" field, from the look pipeline
    if look is not None and filter is None:
        return look_fitted(_load_look(look))
    editor = getattr(result, "editor", None)
    chosen: Filter
    if filter is None and editor:  # a photo editor's sliders
        chosen = editor_filter(editor)
    elif filter is None:  # the command template and its settings files, as result.json keeps them
        chosen = as_filter(_stored_template(result), files=settings_files(getattr(result, "files", None)))
    else:
        chosen = as_filter(filter)
    space = Space.parse(result.space)
    chosen.check(space)  # the program is installed; the template or function takes these parameters
    missing = [name for name in space.names if name not in result.best_params]
    if missing:
        raise FilterFitError(f"result.json has no best value for parameter {missing[0]}: it is incomplete, fit again")
    params = dict(result.best_params)

    def render(image: Image) -> np.ndarray:
        prepared = chosen.prepare([image], image, single_thread=single_thread)  # writes the photo's own format
        return match_channels(prepared.render(image, params), image.channels)

    return Fitted(chosen.describe(), render, render)


def _stored_template(result: FitResult) -> str:
    template = result.filter
    if "{input}" not in template or "{output}" not in template:
        raise FilterFitError(
            f"result.json's filter ({template}) is not a command template, so it cannot be rebuilt from the file; "
            "from Python, pass it again: filterfit.apply(result, image, filter=your_function)"
        )
    return template


def _load_look(data: Any) -> Any:
    try:
        from .look import Look  # type: ignore[import-not-found,unused-ignore]  # the look pipeline (issue 4)
    except ImportError:
        raise FilterFitError(
            "result.json holds a look, but this filterfit has no look pipeline (filterfit.look): "
            "upgrade filterfit to apply or export it"
        ) from None
    try:
        return Look.from_dict(data)
    except FilterFitError:
        raise
    except (TypeError, ValueError, KeyError) as error:
        raise FilterFitError(f"result.json's look is malformed ({error}): fit it again") from None


def look_fitted(look: Any) -> Fitted:
    """A look as a :class:`Fitted`: anything with ``apply``, ``colour_part`` and ``spatial_adjustments``.

    The look renders float32 RGB; grey photos are rendered as RGB and turned
    back to grey, and alpha is kept as it is.
    """
    names = ", ".join(item if isinstance(item, str) else getattr(item, "name", str(item)) for item in look.adjustments)
    return Fitted(
        f"look {names}".strip(),
        _on_rgb(look.apply),
        _on_rgb(look.colour_part().apply),
        tuple(look.spatial_adjustments()),
    )


def _on_rgb(apply_pixels: Callable[[np.ndarray], np.ndarray]) -> Render:
    def render(image: Image) -> np.ndarray:
        has_alpha = image.channels in (2, 4)
        colour = image.pixels[:, :, :-1] if has_alpha else image.pixels
        rgb = np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour
        output = to_float(np.asarray(apply_pixels(np.ascontiguousarray(rgb))))
        if has_alpha:
            output = np.concatenate([output, image.pixels[:, :, -1:]], axis=2)
        return match_channels(output, image.channels)

    return render


def as_result(result: FitResult | str | Path) -> FitResult:
    """A FitResult, or the result.json at that path."""
    return result if isinstance(result, FitResult) else FitResult.load(result)


def apply(
    result: FitResult | str | Path, image: ImageLike, *, filter: Filter | str | Callable[..., Any] | None = None
) -> np.ndarray:
    """Render ``image`` through the filter ``result`` fitted, with its best parameters.

    Parameters
    ----------
    result : FitResult or path to result.json
    image : path, Image or array
        The photo (a path is read with its EXIF orientation applied for JPEG).
    filter : optional
        The filter to use instead of the one result.json names (needed for a
        Python function).

    Returns
    -------
    ndarray of float32, shape (H, W, C)
        The render in [0, 1], with the image's channels; save it with
        ``filterfit.images.save_image``.

    Examples
    --------
    >>> import filterfit
    >>> result = filterfit.FitResult.load("result/result.json")  # doctest: +SKIP
    >>> pixels = filterfit.apply(result, "other.png")  # doctest: +SKIP
    """
    from .pairs import as_image as _as_image

    return rebuild(as_result(result), filter=filter).render(_as_image(image))


@dataclass(frozen=True)
class Applied:
    """What happened to one photo of a batch: its output, or why there is none."""

    source: Path
    output: Path | None
    error: str | None = None
    seconds: float = 0.0


def apply_to_files(
    result: FitResult | str | Path,
    photos: Sequence[str | Path],
    out: str | Path,
    *,
    workers: int = 1,
    filter: Filter | str | Callable[..., Any] | None = None,
    callback: Callable[[Applied], None] | None = None,
    max_pixels: int | None = MAX_PIXELS,
) -> list[Applied]:
    """Apply ``result`` to each photo, writing ``out/<the photo's file name>``.

    A photo that fails (unreadable, the program fails) is reported in its
    :class:`Applied` and the others go on, as does one of more than
    ``max_pixels`` pixels (see :func:`filterfit.images.load_image`). Raises
    FilterFitError before any work when ``out`` would overwrite an input.

    Examples
    --------
    >>> done = apply_to_files("result/result.json", ["a.jpg", "b.png"], "styled")  # doctest: +SKIP
    >>> [item.output for item in done]  # doctest: +SKIP
    [PosixPath('styled/a.jpg'), PosixPath('styled/b.png')]
    """
    if not isinstance(workers, int) or workers < 1:
        raise FilterFitError(f"workers must be an integer >= 1, but got {workers!r}")
    fitted = rebuild(as_result(result), filter=filter, single_thread=workers > 1)
    paths = [Path(photo) for photo in photos]
    folder = _check_out(Path(out), paths)
    done: dict[Path, Applied] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:  # threads: the work is in programs or numpy
        futures = [pool.submit(_apply_one, fitted, path, folder / path.name, max_pixels) for path in paths]
        for future in as_completed(futures):
            outcome = future.result()
            done[outcome.source] = outcome
            if callback is not None:
                callback(outcome)
    return [done[path] for path in paths]


def _check_out(out: Path, photos: list[Path]) -> Path:
    if not photos:
        raise FilterFitError("give at least one photo to apply the result to")
    for photo in photos:
        if photo.resolve().parent == out.resolve():
            raise FilterFitError(
                f"--out {out} is the folder of {photo}: its output would overwrite it; choose another folder"
            )
    twice = [name for name, count in Counter(photo.name for photo in photos).items() if count > 1]
    if twice:
        raise FilterFitError(
            f"two photos are named {twice[0]}: their outputs would overwrite each other in {out}; "
            "apply them in separate runs"
        )
    return prepare_folder(out)


def _apply_one(fitted: Fitted, photo: Path, output: Path, max_pixels: int | None) -> Applied:
    started = time.perf_counter()
    try:
        image = load_image(photo, max_pixels=max_pixels)
        exif, icc = _metadata(photo)
        if image.format in ("png", "tiff"):  # load_image turns only what Pillow decodes (JPEG ...) upright
            image = Image(upright(image.pixels, int(exif.get(ORIENTATION, 1))), image.bit_depth, image.format, photo)
        write_like(fitted.render(image), image, output, exif, icc)
    except (FilterFitError, OSError) as error:
        reason = str(error) if isinstance(error, FilterFitError) else f"cannot write {output}: {error.strerror}"
        return Applied(photo, None, reason, time.perf_counter() - started)
    return Applied(photo, output, None, time.perf_counter() - started)


def _metadata(photo: Path) -> tuple[Any, bytes | None]:
    """The photo's EXIF (empty when it has none or Pillow cannot read it) and ICC colour profile."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(photo) as opened:
            return opened.getexif(), opened.info.get("icc_profile")
    except Exception:  # the pixels were readable (load_image succeeded); metadata is a bonus
        return PILImage.Exif(), None


def upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF ``orientation`` (1-8) the way viewers show them.

    The same turns as Pillow's ``ImageOps.exif_transpose``.
    """
    turns: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        2: lambda p: p[:, ::-1],
        3: lambda p: p[::-1, ::-1],
        4: lambda p: p[::-1],
        5: lambda p: p.swapaxes(0, 1),
        6: lambda p: np.rot90(p, -1),
        7: lambda p: p[::-1, ::-1].swapaxes(0, 1),
        8: lambda p: np.rot90(p, 1),
    }
    turn = turns.get(orientation)
    return pixels if turn is None else np.ascontiguousarray(turn(pixels))


def write_like(pixels: np.ndarray, source: Image, path: Path, exif: Any, icc: bytes | None = None) -> Path:
    """Save ``pixels`` in the format ``path`` names, at the bit depth of ``source``.

    PNG, TIFF and PNM keep 16 bits; JPEG, WebP and other Pillow formats are
    8-bit and keep the source's EXIF, with the orientation reset to 1 (the
    pixels are already upright), and its ICC colour profile.
    """
    if path.suffix.lower() in LOSSLESS_SUFFIXES:
        return save_image(pixels, path, bit_depth=source.bit_depth)
    from PIL import Image as PILImage

    samples = quantize(pixels, 8)
    picture = PILImage.fromarray(samples[:, :, 0] if samples.shape[2] == 1 else samples)
    options: dict[str, Any] = {"quality": 95} if source.lossy else {}
    if len(exif):
        exif[ORIENTATION] = 1
        options["exif"] = exif.tobytes()
    if icc:
        options["icc_profile"] = icc
    try:
        picture.save(path, **options)
    except (KeyError, ValueError) as error:  # Pillow cannot write this format or this mode in it
        raise FilterFitError(f"cannot write {path.name} in its format ({error}): name the output .png") from None
    return path
