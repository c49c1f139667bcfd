"""filterfit: find the parameters of an image filter that turn a source into a target.

Modules:
    fit         -- ``fit()`` as its stages: inputs, problem, fidelity, study, search, confirm, intervals, outputs
    job         -- what one call of ``fit()`` is asked to do, checked and normalised
    run         -- one search's ask -> evaluate -> tell loop, recorded in the study
    pairs       -- the image pairs a fit compares, loaded once and checked for size
    fidelity    -- cheaper pixels first: a crop (spatial filters) or a preview (per-pixel ones)
    space       -- search-space parameters and the ``--param`` grammar
    filters     -- command templates and Python functions as filters
    editors     -- photo editors (RawTherapee, darktable, GIMP) through their own sliders and settings files
    look        -- filterfit's own photo adjustments (``Look``) and the distribution metric
    metrics     -- rmse, mae, psnr, ssim, de2000
    images      -- reading, writing and piping images as float32 arrays
    problem     -- one evaluation: render, compare, report failures
    evaluator   -- parallel worker processes holding the decoded images
    strategies  -- auto, tpe, cmaes, qmc, random, gp, benderopt
    result      -- FitResult and result.json
    outputs     -- the output folder: result.json, best.png, diff.png, plots, report.html
    apply       -- ``apply()``: a result's filter, rebuilt and applied to other photos
    export      -- a result as a .cube 3D LUT, a Hald CLUT PNG, a command line
    lut         -- 3D LUTs measured from a fitted filter, applied, written as .cube and Hald CLUT files
    study       -- the study: its problem definition, its trials, resuming
    storage     -- the study's storage (an Optuna URL, a journal file, a folder) and opening the study in it
    journal     -- the study's journal file in an output folder: locked, synced once a second
    worker      -- ``filterfit worker``: join a shared study from another machine
    plots       -- the plots' data; the convergence PNG (matplotlib), the report's slices and scatter (SVG)
    uncertainty -- each parameter's interval and flags, probed around the best
    profiles    -- the probe search behind the intervals: each parameter's edges, bracketed and bisected
    valleys     -- trade-offs among several parameters at once, from the residuals' Jacobian at the best
    edges       -- the flag for a best value at an end of its range
    report      -- report.html: images, parameter table, plots and facts in one page
    errors      -- FilterFitError and the errors derived from it
    demo        -- the memo's blur experiment on a bundled photo
    cli         -- the ``filterfit`` command: parse, call the library, map errors to exit codes
    cli_output  -- what the command prints: the result table, the outcome line, progress bars, errors
"""

from .apply import apply
from .errors import FilterFitError
from .filters import CommandFilter, Filter, FunctionFilter
from .fit import Progress, fit
from .images import Image, load_image
from .look import Look
from .metrics import Metric, de2000, mae, psnr, rmse, ssim
from .result import FitResult, TrialRecord
from .space import Param, Space
from .strategies import Strategy, register_strategy

__version__ = "0.1.0"

__all__ = [
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
