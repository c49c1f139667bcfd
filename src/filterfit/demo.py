"""The memo's experiment on a photo that ships with scikit-image.

The memo blurred a photo with ``convert photo -blur 27x20`` and recovered
radius 27.99 and sigma 19.96 after 10,000 evaluations of benderopt, with a
``convert`` and a ``compare`` process and a JPEG file per evaluation.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .errors import CommandNotFoundError, FilterFitError
from .filters import CommandFilter
from .images import load_image, save_image, to_float
from .metrics import rmse
from .outputs import prepare_folder
from .space import Space

__all__ = ["MEMO", "PARAMS", "TEMPLATE", "memo_error", "prepare"]

TEMPLATE = "convert {input} -blur {radius}x{sigma} {output}"
PARAMS = ("radius=0:100", "sigma=0:100")
TRUTH = {"radius": 27, "sigma": 20}
MEMO = {"radius": 27.99, "sigma": 19.96, "evaluations": 10_000}


def prepare(out: str | Path) -> tuple[Path, Path]:
    """Write the source photo and its ImageMagick-blurred target into ``out``."""
    from skimage import data

    folder = prepare_folder(out)
    CommandFilter(TEMPLATE).check(Space.parse(PARAMS))  # says how to install ImageMagick if missing
    source = save_image(to_float(data.astronaut()), folder / "photo.png")  # 512x512, public domain (NASA)
    target = folder / "target.png"
    command = ["convert", str(source), "-blur", f"{TRUTH['radius']}x{TRUTH['sigma']}", str(target)]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    except FileNotFoundError:
        raise CommandNotFoundError("command 'convert' is not installed: apt-get install imagemagick") from None
    except subprocess.CalledProcessError as error:
        raise FilterFitError(
            f"convert failed making the demo target: {error.stderr.decode(errors='replace')[-200:]}"
        ) from None
    return source, target


def memo_error(source: Path, target: Path) -> float:
    """The RMSE of the memo's answer against the target (one render)."""
    photo, goal = load_image(source), load_image(target)
    blur = CommandFilter(TEMPLATE).prepare([photo], goal, single_thread=False)
    return rmse(goal.pixels, blur.render(photo, {"radius": MEMO["radius"], "sigma": MEMO["sigma"]}))
