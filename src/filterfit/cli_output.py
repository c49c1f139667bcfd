"""What the ``filterfit`` command prints: the result table, the outcome line, progress bars, one-line errors.

:mod:`filterfit.cli` parses, calls the library and maps errors to exit codes;
these functions turn what came back into text. Results go to stdout (``--json``
keeps it the JSON alone); progress, errors, warnings and hints go to stderr.
``NO_COLOR`` turns colour off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .fidelity import describe

__all__ = [
    "console",
    "count_bar",
    "params_text",
    "print_applied",
    "print_exported",
    "print_memo",
    "print_result",
    "print_status",
    "progress_bar",
    "result_table",
    "say_error",
    "say_how_to_resume",
    "say_resuming",
]


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False)


def say_error(message: str) -> None:
    """``error: <message>`` on stderr; escaped, since paths and values may hold rich markup such as [/b]."""
    console(stderr=True).print(f"[red]error:[/] {escape(message)}", soft_wrap=True)


def say_resuming(options: dict[str, Any]) -> None:
    out = options.get("out")
    if out is not None and options.get("storage") is None and (Path(out) / "study.journal").is_file():
        if not (options["as_json"] or options["quiet"]):
            console(stderr=True).print(
                f"resuming the study in {escape(str(out))}/ (its evaluations count towards --budget)"
            )


def say_how_to_resume(result: Any, options: dict[str, Any]) -> None:
    """After Ctrl-C: how to go on from the result written so far."""
    if options.get("out") or options.get("storage"):
        where = f"--out {options['out']}" if options.get("out") else "--storage/--study"
        hint = f"run the same command again (same {where}) to resume: its {result.evaluations} evaluations are kept"
    else:
        hint = "nothing was kept to resume from: give --out DIR to make a run resumable"
    console(stderr=True).print(f"[yellow]interrupted:[/] {escape(hint)}", soft_wrap=True)


@contextmanager
def progress_bar(show: bool, budget: int) -> Iterator[Any]:
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
    with Progress(*columns, console=console(stderr=True), transient=True) as progress:
        task = progress.add_task("fit", total=budget, best="-", params="")

        def update(state: Any) -> None:
            best = "-" if state.best_error is None else f"{state.best_error:.6g}"
            params = "" if state.best_params is None else params_text(state.best_params)
            progress.update(task, completed=state.evaluations, best=best, params=params)

        yield update


@contextmanager
def count_bar(show: bool, total: int, label: str) -> Iterator[Any]:
    if not show:
        yield None
        return
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda _: progress.advance(task)


def params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def print_result(result: Any, options: dict[str, Any]) -> None:
    if options.get("as_json"):
        click.echo(result.to_json(indent=None))
        return
    if options.get("quiet"):
        click.echo(params_text(result.best_params))
        return
    out = console()
    out.print(result_table(result))
    out.print(
        f"{result.metric} {result.best_error:.6g} after {result.evaluations} evaluations "
        f"({result.failed} failed) in {result.elapsed_s:.1f} s with {result.workers} workers"
        + (" - stopped: close enough to exact" if result.stopped == "exact" else "")
        + (f"; then {len(result.probes)} probes measured the intervals" if result.probes else "")
        + f"; {_renders_text(result)}"
    )
    if result.look and result.look.get("chosen"):
        from .look.choose import describe_choice

        out.print(f"look chosen from the pairs: {escape(describe_choice(result.look['chosen']))}")
    if result.reference:
        from .look.reference import describe_reading

        out.print(f"the reference, read as a target: {escape(describe_reading(result.reference))}")
    reduced = [record for record in result.history if record.fidelity is not None]
    if reduced:
        out.print(
            f"searched {describe(reduced[0].fidelity)} first ({len(reduced)} evaluations), "
            f"then the whole image ({result.evaluations - len(reduced)})"
        )
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}")
    if options.get("out"):
        out.print(
            f"results in {escape(str(options['out']))}/ (result.json, best.png, diff.png, convergence.png, report.html)"
        )


def _renders_text(result: Any) -> str:
    """What the run cost: its renders in all, and those a resumed run made again to replay its search."""
    text = f"{result.renders} renders in all"
    if result.replayed:
        text += f" ({result.replayed} of them again, to replay the study's evaluations)"
    return text


def result_table(result: Any) -> Table:
    """The final table: each parameter's best value, uncertainty interval, range and flags.

    A look's parameters come grouped under their adjustment, as a photo editor's panels; settings
    left at neutral (with no flag) are counted on one line instead of listed.
    """
    table = Table(title="filterfit result", title_justify="left")
    for header in ("parameter", "best", "interval", "searched", "flags"):
        table.add_column(header)
    ranges = {spec.split("=", 1)[0]: spec.split("=", 1)[1] for spec in result.space}
    groups = _look_groups(result.look, list(result.best_params)) if result.look else [("", list(result.best_params))]
    for adjustment, names in groups:
        if adjustment:
            table.add_section()
            table.add_row(f"[bold]{escape(adjustment)}[/]")
        neutral = _at_neutral(result, names) if adjustment else []
        for name in names:
            if name not in neutral:
                table.add_row(*_row(result, name, ranges))
        if neutral:
            table.add_row(f"[dim]{len(neutral)} more at neutral[/]")
    return table


def _row(result: Any, name: str, ranges: dict[str, str]) -> list[str]:
    from .uncertainty import interval_text

    interval = interval_text(result.uncertainty.get(name))
    cells = (
        name,
        _short(result.best_params[name]),
        interval,
        ranges.get(name, ""),
        "\n".join(result.flags.get(name, [])),
    )
    return [escape(cell) for cell in cells]  # choices are the user's text: "[b]" is not markup here


def _look_groups(look: dict[str, Any], names: list[str]) -> list[tuple[str, list[str]]]:
    """The look's searched parameters by adjustment, in its order (any the look does not know, last)."""
    from .look.adjustments import ADJUSTMENTS

    groups, seen = [], set()
    for adjustment in look.get("adjustments", []):
        settings = (
            [s.name for s in ADJUSTMENTS[adjustment].settings if s.name in names] if adjustment in ADJUSTMENTS else []
        )
        if settings:
            groups.append((adjustment, settings))
            seen.update(settings)
    rest = [name for name in names if name not in seen]
    return groups + ([("other", rest)] if rest else [])


def _at_neutral(result: Any, names: list[str]) -> list[str]:
    """The names whose best value is the adjustment's neutral one (to display precision) and that carry no flag."""
    from .look.adjustments import ADJUSTMENTS

    neutral = {s.name: s.neutral for adjustment in ADJUSTMENTS.values() for s in adjustment.settings}
    return [
        name
        for name in names
        if name in neutral and not result.flags.get(name) and _short(result.best_params[name]) == _short(neutral[name])
    ]


def print_memo(memo: dict[str, Any], memo_error: float) -> None:
    """``filterfit demo``'s last line: what the memo found, and how far it is from this target."""
    console().print(
        f"the memo (benderopt, JPEG files): radius {memo['radius']} sigma {memo['sigma']} "
        f"after {memo['evaluations']:,} evaluations, rmse {memo_error:.4f} against this target"
    )


def print_applied(done: Sequence[Any], out: Path, *, quiet: bool) -> None:
    """``filterfit apply``'s summary, then one error line per photo that failed."""
    failed = [item for item in done if item.error]
    if not quiet:
        console().print(f"applied to {len(done) - len(failed)} of {len(done)} photos in {escape(str(out))}/")
    for item in failed:
        named = str(item.error).startswith(str(item.source))  # image errors name their file already
        say_error(f"{'' if named else f'{item.source}: '}{item.error}")


def print_exported(command: Any, exported: Any, *, as_command: bool) -> None:
    """``filterfit export``'s output: the command alone on stdout; what was written and how close, on stderr."""
    if command is not None:
        click.echo(command.text)
        if command.psnr is not None:  # stdout stays the command alone
            console(stderr=True).print(
                escape(
                    f"the command: {command.psnr:.1f} dB PSNR against filterfit apply on {command.check_photo} "
                    "(ImageMagick ran it)"
                ),
                soft_wrap=True,
            )
    if exported is not None:
        out = console(stderr=as_command)  # stdout stays the command alone
        for kind, path in exported.written.items():
            out.print(
                escape(
                    f"wrote {path} ({'33^3 .cube 3D LUT' if kind == 'cube' else 'level-8 Hald CLUT'}): "
                    f"{exported.psnr[kind]:.1f} dB PSNR against the filter's own render of {exported.check_photo}"
                ),
                soft_wrap=True,
            )
    for warning in [*(command.warnings if command else []), *(exported.warnings if exported else [])]:
        console(stderr=True).print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


def print_status(data: dict[str, Any], *, as_json: bool) -> None:
    """``filterfit status``: the study's summary as JSON, or one ``key: value`` line each."""
    if as_json:
        click.echo(json.dumps(data))
        return
    for key, value in data.items():
        shown = params_text(value) if isinstance(value, dict) else value
        shown = " ".join(shown) if isinstance(shown, list) else shown
        click.echo(f"{key + ':':<12} {shown}")
