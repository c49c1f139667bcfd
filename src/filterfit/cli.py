"""The ``filterfit`` command: parse, call the library, print, map errors to exit codes.

Exit codes: 0 success, 1 a run that produced no answer (every evaluation
failed) or an ``apply`` with failed photos, 2 a usage mistake (bad file, bad
--param, unknown metric ...: one line, ``error: <problem>: <fix>``), 130 Ctrl-C.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .errors import AllEvaluationsFailedError, FilterFitError, InterruptedBeforeAnswerError
from .images import MAX_PIXELS
from .metrics import METRICS

__all__ = ["main"]

STRATEGY_NAMES = ["auto", "tpe", "cmaes", "qmc", "random", "gp", "benderopt"]


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False)


class _OneLineUsageError(click.UsageError):
    """click's usage errors in filterfit's shape, one line: ``error: <problem> (see <command> --help)``."""

    def show(self, file: Any = None) -> None:
        where = self.ctx.command_path if self.ctx is not None else "filterfit"
        _say_error(f"{self.format_message().rstrip('.')} (see {where} --help)")


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
            help="What to minimise [default: rmse; distribution with --reference].",
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
    "--look",
    is_flag=False,
    flag_value="default",
    default=None,
    metavar="[a,b,c]",
    help="Fit filterfit's own look instead of --command: alone the default set, or e.g. exposure,contrast,vignette.",
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
    help="A photo of another scene to take the look of, instead of TARGET (metric: distribution).",
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
    filterfit fit photo.png target.png --look                  # the default look
    filterfit fit --look exposure,vignette --pair a.png a-edited.png --pair b.png b-edited.png
    filterfit fit photo.png --reference other-scene.png --look  # unpaired
    """
    from .fit import fit as run_fit
    from .space import Space

    with _errors():
        options = _images(source, target, options)
        look, metric = options.pop("look"), options.pop("metric")
        _check_filter(template, params, look)
        space = Space.parse(params) if params else None
        if metric is None:
            metric = "distribution" if options["reference"] is not None else "rmse"
        _say_resuming(options)
        result = _run(
            run_fit, template, space, options.pop("source"), options.pop("target"), look=look, metric=metric, **options
        )
    _report(result, options)
    _exit_if_interrupted(result, options)


INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C (128 + SIGINT)


def _say_resuming(options: dict[str, Any]) -> None:
    out = options.get("out")
    if out is not None and options.get("storage") is None and (Path(out) / "study.journal").is_file():
        if not (options["as_json"] or options["quiet"]):
            _console(stderr=True).print(
                f"resuming the study in {escape(str(out))}/ (its evaluations count towards --budget)"
            )


def _exit_if_interrupted(result: Any, options: dict[str, Any]) -> None:
    """After Ctrl-C: the result so far is written; say how to go on, exit 130."""
    if result.stopped != "interrupted":
        return
    if options.get("out") or options.get("storage"):
        where = f"--out {options['out']}" if options.get("out") else "--storage/--study"
        hint = f"run the same command again (same {where}) to resume: its {result.evaluations} evaluations are kept"
    else:
        hint = "nothing was kept to resume from: give --out DIR to make a run resumable"
    _console(stderr=True).print(f"[yellow]interrupted:[/] {escape(hint)}", soft_wrap=True)
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


def _check_filter(template: str | None, params: tuple[str, ...], look: str | None) -> None:
    if template is not None and look is not None:
        raise FilterFitError("give either --command or --look, not both")
    if template is None and look is None:
        raise FilterFitError("give --command TEMPLATE with --param, or --look to fit filterfit's own look")
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
    with _progress_bar(show, options["budget"]) as callback:
        return run_fit(template, space, source, target, callback=callback, **options)


@contextmanager
def _progress_bar(show: bool, budget: int) -> Iterator[Any]:
    if not show:
        yield None
        return
    columns = (
        TextColumn("[bold]fitting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TextColumn("{task.fields[params]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_console(stderr=True), transient=True) as progress:
        task = progress.add_task("fit", total=budget, best="-", params="")

        def update(state: Any) -> None:
            best = "-" if state.best_error is None else f"{state.best_error:.6g}"
            params = "" if state.best_params is None else _params_text(state.best_params)
            progress.update(task, completed=state.evaluations, best=best, params=params)

        yield update


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _report(result: Any, options: dict[str, Any]) -> None:
    if options.get("as_json"):
        click.echo(result.to_json(indent=None))
        return
    if options.get("quiet"):
        click.echo(_params_text(result.best_params))
        return
    console = _console()
    console.print(result_table(result))
    console.print(
        f"{result.metric} {result.best_error:.6g} after {result.evaluations} evaluations "
        f"({result.failed} failed) in {result.elapsed_s:.1f} s with {result.workers} workers"
        + (" - stopped: close enough to exact" if result.stopped == "exact" else "")
        + (f"; then {len(result.probes)} probes measured the intervals" if result.probes else "")
        + f"; {_renders_text(result)}"
    )
    cropped = [record for record in result.history if record.crop is not None]
    if cropped:
        console.print(
            f"searched a {cropped[0].crop} crop first ({len(cropped)} evaluations), "
            f"then the whole image ({result.evaluations - len(cropped)})"
        )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if options.get("out"):
        console.print(
            f"results in {escape(str(options['out']))}/ (result.json, best.png, diff.png, convergence.png, report.html)"
        )


def _renders_text(result: Any) -> str:
    """What the run cost: its renders in all, and those a resumed run made again to replay its search."""
    text = f"{result.renders} renders in all"
    if result.replayed:
        text += f" ({result.replayed} of them again, to replay the study's evaluations)"
    return text


def result_table(result: Any) -> Table:
    """The final table: each parameter's best value, uncertainty interval, range and flags."""
    from .uncertainty import interval_text

    table = Table(title="filterfit result", title_justify="left")
    for header in ("parameter", "best", "interval", "searched", "flags"):
        table.add_column(header)
    ranges = {spec.split("=", 1)[0]: spec.split("=", 1)[1] for spec in result.space}
    for name, value in result.best_params.items():
        interval = interval_text(result.uncertainty.get(name))
        cells = (name, _short(value), interval, ranges.get(name, ""), "\n".join(result.flags.get(name, [])))
        table.add_row(*map(escape, cells))  # choices are the user's text: "[b]" is not markup here
    return table


@contextmanager
def _errors() -> Iterator[None]:
    """One line per user mistake (exit 2), failed run (exit 1) or early Ctrl-C (130); never a traceback."""
    try:
        yield
    except InterruptedBeforeAnswerError as error:
        _say_error(str(error))
        sys.exit(INTERRUPTED)
    except AllEvaluationsFailedError as error:
        _say_error(str(error))
        sys.exit(1)
    except FilterFitError as error:
        _say_error(str(error))
        sys.exit(2)


def _say_error(message: str) -> None:
    """``error: <message>`` on stderr; escaped, since paths and values may hold rich markup such as [/b]."""
    _console(stderr=True).print(f"[red]error:[/] {escape(message)}", soft_wrap=True)


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
    _report(result, {**options, "out": out})
    if not (options["as_json"] or options["quiet"]):
        _console().print(
            f"the memo (benderopt, JPEG files): radius {memo.MEMO['radius']} sigma {memo.MEMO['sigma']} "
            f"after {memo.MEMO['evaluations']:,} evaluations, rmse {memo_error:.4f} against this target"
        )


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
    with _errors(), _count_bar(show, len(photos), "applying") as callback:
        result = FitResult.load(result_path)
        done = apply_to_files(
            result, photos, out, workers=workers or default_workers(), callback=callback, max_pixels=max_pixels
        )
    failed = [item for item in done if item.error]
    if not quiet:
        _console().print(f"applied to {len(done) - len(failed)} of {len(done)} photos in {escape(str(out))}/")
    for item in failed:
        named = str(item.error).startswith(str(item.source))  # image errors name their file already
        _say_error(f"{'' if named else f'{item.source}: '}{item.error}")
    if failed:
        sys.exit(1)


@contextmanager
def _count_bar(show: bool, total: int, label: str) -> Iterator[Any]:
    if not show:
        yield None
        return
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=_console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda _: progress.advance(task)


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
    if command is not None:
        click.echo(command.text)
        if command.psnr is not None:  # stdout stays the command alone
            _console(stderr=True).print(
                escape(
                    f"the command: {command.psnr:.1f} dB PSNR against filterfit apply on {command.check_photo} "
                    "(ImageMagick ran it)"
                ),
                soft_wrap=True,
            )
    if exported is not None:
        console = _console(stderr=as_command)  # stdout stays the command alone
        for kind, path in exported.written.items():
            console.print(
                escape(
                    f"wrote {path} ({'33^3 .cube 3D LUT' if kind == 'cube' else 'level-8 Hald CLUT'}): "
                    f"{exported.psnr[kind]:.1f} dB PSNR against the filter's own render of {exported.check_photo}"
                ),
                soft_wrap=True,
            )
    for warning in [*(command.warnings if command else []), *(exported.warnings if exported else [])]:
        _console(stderr=True).print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


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
    _report(result, options)
    _exit_if_interrupted(result, {"storage": storage})


@cli.command()
@_study_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def status(storage: str, study_name: str | None, as_json: bool) -> None:
    """Summarise a (shared) study: its problem, evaluations by state, the best so far."""
    import json

    import optuna

    from .study import open_storage, open_study, summary

    with _errors():
        study = open_study(open_storage(storage), study_name, optuna.samplers.RandomSampler(), create=False)
        data = summary(study)
    if as_json:
        click.echo(json.dumps(data))
        return
    for key, value in data.items():
        shown = _params_text(value) if isinstance(value, dict) else value
        shown = " ".join(shown) if isinstance(shown, list) else shown
        click.echo(f"{key + ':':<12} {shown}")


def main() -> None:
    """Entry point of the ``filterfit`` script."""
    cli()


if __name__ == "__main__":
    main()
