"""The ``filterfit`` command: parse, call the library, print, map errors to exit codes.

Exit codes: 0 success, 1 a run that produced no answer (every evaluation
failed), 2 a usage mistake (bad file, bad --param, unknown metric ...).
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .errors import AllEvaluationsFailedError, FilterFitError
from .metrics import METRICS

__all__ = ["main"]

STRATEGY_NAMES = ["auto", "tpe", "cmaes", "qmc", "random", "gp", "benderopt"]


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="filterfit")
def cli() -> None:
    """Find the parameters of an image filter that turn a source image into a target."""


def _fit_options(function: Any) -> Any:
    options = [
        click.option(
            "--metric", default="rmse", show_default=True, type=click.Choice(list(METRICS)), help="What to minimise."
        ),
        click.option(
            "--strategy", default="auto", show_default=True, type=click.Choice(STRATEGY_NAMES), help="How to search."
        ),
        click.option("--budget", default=200, show_default=True, type=int, help="Most evaluations to make."),
        click.option("--timeout", default=60.0, show_default=True, type=float, help="Seconds one evaluation may take."),
        click.option("--workers", default=None, type=int, help="Parallel evaluations [default: the number of cores]."),
        click.option("--seed", default=None, type=int, help="Seed, for a repeatable run."),
        click.option(
            "--stop-below", default=None, type=float, help="Stop once the metric is this good [default: rmse 1e-5]."
        ),
        click.option("--json", "as_json", is_flag=True, help="Print only the result JSON on stdout."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar, no table."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--command",
    "template",
    required=True,
    help="Command template, e.g. 'convert {input} -blur {radius}x{sigma} {output}'.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    required=True,
    help="name=LOW:HIGH[:int|:log|:step=S] or name=a,b,c; repeat per parameter.",
)
@_fit_options
@click.option("--border", default=0, show_default=True, type=int, help="Pixels at the edges to ignore.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Folder for result.json, best.png, diff.png, plots."
)
@click.option("--storage", default=None, help="Optuna storage URL (default: a journal file in --out).")
@click.option("--study", "study_name", default=None, help="Study name in --storage.")
def fit(source: Path, target: Path, template: str, params: tuple[str, ...], **options: Any) -> None:
    """Fit the parameters of --command that turn SOURCE into TARGET."""
    from .fit import fit as run_fit
    from .space import Space

    with _errors():
        space = Space.parse(params)
        _say_resuming(options)
        result = _run(run_fit, template, space, source, target, **options)
    _report(result, options)
    _exit_if_interrupted(result, options)


INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C (128 + SIGINT)


def _say_resuming(options: dict[str, Any]) -> None:
    out = options.get("out")
    if out is not None and options.get("storage") is None and (Path(out) / "study.journal").is_file():
        if not (options["as_json"] or options["quiet"]):
            _console(stderr=True).print(f"resuming the study in {out}/ (its evaluations count towards --budget)")


def _exit_if_interrupted(result: Any, options: dict[str, Any]) -> None:
    """After Ctrl-C: the result so far is written; say how to go on, exit 130."""
    if result.stopped != "interrupted":
        return
    if options.get("out") or options.get("storage"):
        where = f"--out {options['out']}" if options.get("out") else "--storage/--study"
        hint = f"run the same command again (same {where}) to resume: its {result.evaluations} evaluations are kept"
    else:
        hint = "nothing was kept to resume from: give --out DIR to make a run resumable"
    _console(stderr=True).print(f"[yellow]interrupted:[/] {hint}", soft_wrap=True)
    sys.exit(INTERRUPTED)


def _run(
    run_fit: Any, template: str, space: Any, source: Path, target: Path, *, as_json: bool, quiet: bool, **options: Any
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
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if options.get("out"):
        console.print(f"results in {options['out']}/ (result.json, best.png, diff.png, convergence.png)")


def result_table(result: Any) -> Table:
    """The final table: each parameter's best value, tie interval, range and flags."""
    table = Table(title="filterfit result", title_justify="left")
    for header in ("parameter", "best", "ties within", "searched", "flags"):
        table.add_column(header)
    ranges = {spec.split("=", 1)[0]: spec.split("=", 1)[1] for spec in result.space}
    for name, value in result.best_params.items():
        interval = result.uncertainty.get(name)
        ties = f"[{interval[0]:.6g}, {interval[1]:.6g}]" if interval else "-"
        table.add_row(name, _short(value), ties, ranges.get(name, ""), "; ".join(result.flags.get(name, [])))
    return table


@contextmanager
def _errors() -> Iterator[None]:
    """One line per user mistake (exit 2) or failed run (exit 1); never a traceback."""
    try:
        yield
    except AllEvaluationsFailedError as error:
        _console(stderr=True).print(f"[red]error:[/] {error}", soft_wrap=True)
        sys.exit(1)
    except FilterFitError as error:
        _console(stderr=True).print(f"[red]error:[/] {error}", soft_wrap=True)
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
    _report(result, {**options, "out": out})
    if not (options["as_json"] or options["quiet"]):
        _console().print(
            f"the memo (benderopt, JPEG files): radius {memo.MEMO['radius']} sigma {memo.MEMO['sigma']} "
            f"after {memo.MEMO['evaluations']:,} evaluations, rmse {memo_error:.4f} against this target"
        )


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
