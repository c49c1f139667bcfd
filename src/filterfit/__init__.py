"""filterfit: find the parameters of an image filter that turn a source into a target.

Modules:
    fit         -- ``fit()``, the ask -> evaluate -> tell loop
    fidelity    -- large photos: a search on a centre crop first
    space       -- search-space parameters and the ``--param`` grammar
    filters     -- command templates and Python functions as filters
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
    study       -- the study's storage, its problem definition, resuming
    journal     -- the study's journal file in an output folder: locked, synced once a second
    worker      -- ``filterfit worker``: join a shared study from another machine
    plots       -- convergence, slice and pairwise data, and their drawing
    uncertainty -- each parameter's interval and flags, probed around the best
    edges       -- the flag for a best value at an end of its range
    report      -- report.html: images, parameter table, plots and facts in one page
    errors      -- FilterFitError and the errors derived from it
    demo        -- the memo's blur experiment on a bundled photo
    cli         -- the ``filterfit`` command
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
