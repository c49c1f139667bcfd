"""The ``filterfit`` command: parse, call the library, map errors to exit codes (:mod:`.cli_output` prints).

Exit codes: 0 success, 1 a run that produced no answer (every evaluation
failed) or an ``apply`` with failed photos, 2 a usage mistake (bad file, bad
--param, unknown metric ...: one line, ``error: <problem>: <fix>``), 130 Ctrl-C.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from . import __version__
from .cli_output import (
    count_bar,
    print_applied,
    print_exported,
    print_memo,
    print_result,
    print_status,
    progress_bar,
    say_error,
    say_how_to_resume,
    say_resuming,
)
from .cli_output import result_table as result_table  # re-exported: the table was defined here
from .errors import AllEvaluationsFailedError, FilterFitError, InterruptedBeforeAnswerError
from .filters.settings_file import parse_settings_option
from .images import MAX_PIXELS
from .metrics import METRICS

__all__ = ["main"]

STRATEGY_NAMES = ["auto", "tpe", "cmaes", "qmc", "random", "gp", "benderopt"]


class _OneLineUsageError(click.UsageError):
    """click's usage errors in filterfit's shape, one line: ``error: <problem> (see <command> --help)``."""

    def show(self, file: Any = None) -> None:
        where = self.ctx.command_path if self.ctx is not None else "filterfit"
        say_error(f"{self.format_message().rstrip('.')} (see {where} --help)")


class _Commands(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # a subcommand's options or arguments did not parse
            raise _OneLineUsageError(error.format_message(), error.ctx or ctx) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="filterfit")
def cli() -> None:
    """Find the parameters of an image filter that turn a source image into a target."""


_max_pixels_option = click.option(
    "--max-pixels",
    default=MAX_PIXELS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Refuse image files of more pixels (width x height) before decoding them: decompression bombs.",
)


def _fit_options(function: Any) -> Any:
    options = [
        click.option(
            "--metric",
            default=None,
            type=click.Choice(list(METRICS)),
            help="What to minimise [default: rmse; with --reference, rmse against what the reference tells].",
        ),
        click.option(
            "--strategy", default="auto", show_default=True, type=click.Choice(STRATEGY_NAMES), help="How to search."
        ),
        click.option(
            "--budget",
            default=200,
            show_default=True,
            type=int,
            help="Most evaluations of the search; the probes after it take at most half of it more.",
        ),
        click.option("--timeout", default=60.0, show_default=True, type=float, help="Seconds one evaluation may take."),
        click.option("--workers", default=None, type=int, help="Parallel evaluations [default: the number of cores]."),
        click.option("--seed", default=None, type=int, help="Seed, for a repeatable run."),
        click.option(
            "--stop-below", default=None, type=float, help="Stop once the metric is this good [default: rmse 1e-5]."
        ),
        click.option("--json", "as_json", is_flag=True, help="Print only the result JSON on stdout."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar, no table."),
        click.option(
            "--probes",
            default=80,
            show_default=True,
            type=click.IntRange(min=0),
            help="Most evaluations after the search that measure each parameter's interval and flags (<= budget/2).",
        ),
        _max_pixels_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function


@cli.command()
@click.argument("source", type=click.Path(path_type=Path), required=False)
@click.argument("target", type=click.Path(path_type=Path), required=False)
@click.option(
    "--command",
    "template",
    default=None,
    help="Command template, e.g. 'convert {input} -blur {radius}x{sigma} {output}'.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    help="name=LOW:HIGH[:int|:log|:step=S] or name=a,b,c; repeat per parameter.",
)
@click.option(
    "--editor",
    default=None,
    metavar="NAME",
    help="Fit a photo editor's own sliders instead of --command: rawtherapee, darktable or gimp (--param "
    "narrows them, e.g. --param exposure_compensation=-2:2); --out gets its settings file (look.pp3, look.xmp, "
    "look.scm).",
)
@click.option(
    "--settings",
    "settings",
    multiple=True,
    metavar="NAME=FILE",
    help="A settings file template for {NAME} in --command (e.g. profile=look.pp3): written with the --param "
    "values for each evaluation, its path given to the command; --out gets it with the best values. Repeatable.",
)
@click.option(
    "--look",
    is_flag=False,
    flag_value="default",
    default=None,
    metavar="[a,b,c]",
    help="Fit filterfit's own look instead of --command: alone the default set, auto to choose the adjustments "
    "from the pairs, or e.g. exposure,contrast,vignette.",
)
@click.option(
    "--pair",
    "pairs",
    nargs=2,
    multiple=True,
    type=click.Path(path_type=Path),
    help="BEFORE AFTER: one more pair explained by the same parameters; repeat per pair.",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    default=None,
    help="A photo of another scene to take the look of, instead of TARGET: what it can tell (black and white "
    "points, a vignette) makes the target.",
)
@_fit_options
@click.option("--border", default=0, show_default=True, type=int, help="Pixels at the edges to ignore.")
@click.option(
    "--crop/--no-crop",
    default=None,
    help=(
        "Search a centre crop first, finish on the whole image [default: for photos of 1.5 megapixels or more; "
        "auto scans a smaller crop of photos from 320x320]. --no-crop for filters that depend on the whole frame."
    ),
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Folder for result.json, best.png, diff.png, plots."
)
@click.option("--storage", default=None, help="Optuna storage URL (default: a journal file in --out).")
@click.option("--study", "study_name", default=None, help="Study name in --storage.")
def fit(
    source: Path | None, target: Path | None, template: str | None, params: tuple[str, ...], **options: Any
) -> None:
    """Fit the parameters of --command (or --look) that turn SOURCE into TARGET.

    \b
    filterfit fit photo.png target.png --command '...' --param radius=0:100
    filterfit fit photo.tif target.tif --command 'rawtherapee-cli -o {output} -p {profile} -t -Y -c {input}' \\
        --settings profile=look.pp3 --param ev=-2:2    # look.pp3 holds Compensation={ev}
    filterfit fit photo.png target.png --look                  # the default look
    filterfit fit photo.png target.png --look auto             # the adjustments chosen from the pair
    filterfit fit --look exposure,vignette --pair a.png a-edited.png --pair b.png b-edited.png
    filterfit fit photo.png --reference other-scene.png --look  # unpaired
    """
    from .fit import fit as run_fit
    from .space import Space

    with _errors():
        options = _images(source, target, options)
        look, metric = options.pop("look"), options.pop("metric")
        settings = options.pop("settings")
        _check_filter(template, params, look, options["editor"])
        if settings:
            if template is None:
                raise FilterFitError("--settings is for a --command that reads the file: give --command with it")
            options["files"] = dict(parse_settings_option(option) for option in settings)
        space = Space.parse(params) if params else None
        say_resuming(options)
        result = _run(
            run_fit, template, space, options.pop("source"), options.pop("target"), look=look, metric=metric, **options
        )
    print_result(result, options)
    _exit_if_interrupted(result, options)


INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C (128 + SIGINT)


def _exit_if_interrupted(result: Any, options: dict[str, Any]) -> None:
    """After Ctrl-C: the result so far is written; say how to go on, exit 130."""
    if result.stopped != "interrupted":
        return
    say_how_to_resume(result, options)
    sys.exit(INTERRUPTED)


def _images(source: Path | None, target: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    """SOURCE TARGET, --pair (repeated) or SOURCE --reference: as fit()'s source/target/pairs/reference."""
    pairs = [tuple(pair) for pair in options.pop("pairs")]
    reference = options["reference"]
    if reference is not None and (target is not None or pairs):
        raise FilterFitError("--reference replaces TARGET: give SOURCE --reference PHOTO without TARGET or --pair")
    if reference is not None and source is None:
        raise FilterFitError(
            "--reference needs the SOURCE photo to give the look to: filterfit fit SOURCE --reference PHOTO"
        )
    if source is not None and target is None and reference is None:
        raise FilterFitError("give a TARGET after SOURCE, a --reference photo, or pairs with --pair BEFORE AFTER")
    if pairs and source is not None:
        pairs.insert(0, (source, target))
    if source is None and not pairs:
        raise FilterFitError("give SOURCE TARGET, --pair BEFORE AFTER (repeatable) or SOURCE --reference PHOTO")
    return {**options, "source": None if pairs else source, "target": None if pairs else target, "pairs": pairs or None}


def _check_filter(template: str | None, params: tuple[str, ...], look: str | None, editor: str | None = None) -> None:
    options = (("--command", template), ("--look", look), ("--editor", editor))
    given = [option for option, value in options if value is not None]
    if len(given) > 1:
        raise FilterFitError(f"give either {given[0]} or {given[1]}, not both")
    if not given:
        raise FilterFitError(
            "give --command TEMPLATE with --param, or --look to fit filterfit's own look "
            "(or --editor rawtherapee for its sliders)"
        )
    if template is not None and not params:
        raise FilterFitError("--command needs its parameters: --param name=LOW:HIGH, once per {name} in the template")


def _run(
    run_fit: Any,
    template: str | None,
    space: Any,
    source: Path,
    target: Path,
    *,
    as_json: bool,
    quiet: bool,
    **options: Any,
) -> Any:
    show = not (as_json or quiet) and sys.stderr.isatty()
    with progress_bar(show, options["budget"]) as callback:
        return run_fit(template, space, source, target, callback=callback, **options)


@contextmanager
def _errors() -> Iterator[None]:
    """One line per user mistake (exit 2), failed run (exit 1) or early Ctrl-C (130); never a traceback."""
    try:
        yield
    except InterruptedBeforeAnswerError as error:
        say_error(str(error))
        sys.exit(INTERRUPTED)
    except AllEvaluationsFailedError as error:
        say_error(str(error))
        sys.exit(1)
    except FilterFitError as error:
        say_error(str(error))
        sys.exit(2)


@cli.command()
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("filterfit-demo"), show_default=True, help="Output folder."
)
@_fit_options
def demo(out: Path, **options: Any) -> None:
    """The memo's experiment: recover ImageMagick's -blur 27x20 on a bundled photo."""
    from . import demo as memo
    from .fit import fit as run_fit
    from .space import Space

    with _errors():
        source, target = memo.prepare(out)
        result = _run(run_fit, memo.TEMPLATE, Space.parse(memo.PARAMS), source, target, out=out, **options)
        memo_error = memo.memo_error(source, target)
    print_result(result, {**options, "out": out})
    if not (options["as_json"] or options["quiet"]):
        print_memo(memo.MEMO, memo_error)


@cli.command()
@click.argument("result_path", metavar="RESULT.json", type=click.Path(path_type=Path))
@click.argument("photos", metavar="PHOTO...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out", required=True, metavar="DIR", type=click.Path(path_type=Path), help="Folder for the outputs (same names)."
)
@click.option("--workers", default=None, type=click.IntRange(min=1), help="Photos at once [default: the cores].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar, no summary.")
@_max_pixels_option
def apply(
    result_path: Path, photos: tuple[Path, ...], out: Path, workers: int | None, quiet: bool, max_pixels: int
) -> None:
    """Apply what RESULT.json fitted to each PHOTO, writing DIR/<the photo's name>."""
    from .apply import apply_to_files
    from .evaluator import default_workers
    from .result import FitResult

    show = not quiet and sys.stderr.isatty()
    with _errors(), count_bar(show, len(photos), "applying") as callback:
        result = FitResult.load(result_path)
        done = apply_to_files(
            result, photos, out, workers=workers or default_workers(), callback=callback, max_pixels=max_pixels
        )
    print_applied(done, out, quiet=quiet)
    if any(item.error for item in done):
        sys.exit(1)


@cli.command()
@click.argument("result_path", metavar="RESULT.json", type=click.Path(path_type=Path))
@click.option("--cube", metavar="FILE", type=click.Path(path_type=Path), help="Write a 33^3 .cube 3D LUT here.")
@click.option("--hald", metavar="FILE", type=click.Path(path_type=Path), help="Write a level-8 Hald CLUT PNG here.")
@click.option("--command", "as_command", is_flag=True, help="Print a command line reproducing the result.")
@click.option(
    "--check",
    metavar="PHOTO",
    type=click.Path(path_type=Path),
    help="Photo to measure the LUTs and a look's command on [default: the fit's source, else astronaut].",
)
def export(result_path: Path, cube: Path | None, hald: Path | None, as_command: bool, check: Path | None) -> None:
    """Export what RESULT.json fitted as a 3D LUT, a Hald CLUT and/or a command line."""
    from .export import export_command, export_luts
    from .result import FitResult

    with _errors():
        if not (cube or hald or as_command):
            raise FilterFitError("say what to export: --cube FILE, --hald FILE and/or --command")
        result = FitResult.load(result_path)
        command = export_command(result, check=check) if as_command else None
        exported = export_luts(result, cube=cube, hald=hald, check=check) if cube or hald else None
    print_exported(command, exported, as_command=as_command)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print nothing.")
def report(folder: Path, quiet: bool) -> None:
    """(Re)build FOLDER/report.html from the result.json and images a fit left there."""
    from .report import build_report

    with _errors():
        path = build_report(folder)
    if not quiet:
        click.echo(str(path))


def _study_options(function: Any) -> Any:
    storage = "The study's storage: a postgresql:// (or any Optuna) URL, or a journal file or --out folder."
    function = click.option("--study", "study_name", default=None, help="Study name (when the storage has several).")(
        function
    )
    return click.option("--storage", required=True, help=storage)(function)


@cli.command()
@_study_options
@click.option("--workers", default=None, type=int, help="Parallel evaluations here [default: the number of cores].")
@click.option(
    "--images", type=click.Path(path_type=Path), default=None, help="Folder with this machine's copies of the images."
)
@click.option("--json", "as_json", is_flag=True, help="Print only the study's result JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar, no table.")
def worker(storage: str, study_name: str | None, workers: int | None, images: Path | None, **options: Any) -> None:
    """Join a study started by `filterfit fit --storage URL --study NAME` and evaluate until its budget is spent."""
    from .worker import join

    with _errors():
        result = join(storage, study_name, workers=workers, images=images)
    print_result(result, options)
    _exit_if_interrupted(result, {"storage": storage})


@cli.command()
@_study_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def status(storage: str, study_name: str | None, as_json: bool) -> None:
    """Summarise a (shared) study: its problem, evaluations by state, the best so far."""
    import optuna

    from .study import open_storage, open_study, summary

    with _errors():
        study = open_study(open_storage(storage), study_name, optuna.samplers.RandomSampler(), create=False)
        data = summary(study)
    print_status(data, as_json=as_json)


def main() -> None:
    """Entry point of the ``filterfit`` script."""
    cli()


if __name__ == "__main__":
    main()
