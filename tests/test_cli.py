"""The ``filterfit`` command: exit codes, one-line errors, --json, and the files it leaves.

Most runs go through click's CliRunner; two run the installed script and ``python -m filterfit``
as a user would. Runs are tiny (a 32x32 photo crop, a handful of ``convert`` calls).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner, Result

import filterfit
from filterfit.cli import STRATEGY_NAMES, cli
from filterfit.result import RESULT_FIELDS
from filterfit.strategies import STRATEGIES, get_strategy

BLUR = "convert {input} -blur 0x{sigma} {output}"
SCRIPT = Path(sys.executable).parent / "filterfit"

pytestmark = pytest.mark.requires("convert")


@pytest.fixture(scope="module")
def images(small_photo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 32x32 photo and its ``convert -blur 0x1.5``."""
    target = tmp_path_factory.mktemp("cli") / "target.png"
    subprocess.run(["convert", str(small_photo), "-blur", "0x1.5", str(target)], check=True, capture_output=True)
    return small_photo, target


def invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def fit_args(images: tuple[Path, Path], *extra: object, command: str = BLUR, param: str = "sigma=0.3:5") -> list:
    source, target = images
    return ["fit", source, target, "--command", command, "--param", param, "--workers", 1, "--seed", 1, *extra]


def assert_one_line_error(result: Result, exit_code: int, message: str) -> None:
    """The contract for a user's mistake: an exit code, one line on stderr, no traceback."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert result.stdout == ""
    assert "Traceback" not in result.output


# --- a good run ---------------------------------------------------------------------------------


def test_fit_prints_a_table_and_writes_the_folder(images, tmp_path):
    out = tmp_path / "out"
    result = invoke(*fit_args(images, "--budget", 6, "--out", out))
    assert result.exit_code == 0, result.output
    assert "filterfit result" in result.stdout
    for header in ("parameter", "best", "interval", "searched", "flags"):
        assert header in result.stdout
    assert "sigma" in result.stdout and "0.3:5" in result.stdout
    assert "rmse " in result.stdout and "after 6 evaluations (0 failed)" in result.stdout
    assert f"results in {out}/" in result.stdout
    assert result.stderr == ""
    assert {p.name for p in out.iterdir()} >= {
        "result.json",
        "best.png",
        "diff.png",
        "convergence.png",
        "study.journal",
    }
    data = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert data["evaluations"] == 6 and data["filter"] == BLUR and data["space"] == ["sigma=0.3:5"]


@pytest.mark.parametrize(("budget", "probes"), [(5, 2), (12, 6)])
def test_a_budget_bounds_every_render_and_the_outcome_line_counts_them(budget, probes, images, tmp_path):
    """The probes take at most half the budget more; the renders are counted by the program itself."""
    log = tmp_path / "renders.log"
    command = f"sh -c \"echo >> '{log}' && convert {{input}} -blur 0x{{sigma}} {{output}}\""
    out = tmp_path / "out"
    result = invoke(*fit_args(images, "--budget", budget, "--stop-below", 0, "--out", out, command=command))
    assert result.exit_code == 0, result.output
    data = json.loads((out / "result.json").read_text(encoding="utf-8"))
    renders = len(log.read_text().splitlines())
    assert (data["evaluations"], len(data["probes"]), data["renders"], data["replayed"]) == (
        budget,
        probes,
        renders,
        0,
    )
    assert renders == budget + probes + 1  # + best.png
    assert f"then {probes} probes measured the intervals; {renders} renders in all" in " ".join(result.stdout.split())


def test_json_prints_only_the_result(images, tmp_path):
    result = invoke(*fit_args(images, "--budget", 5, "--json", "--strategy", "random", "--out", tmp_path / "out"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the whole of stdout, nothing else
    assert set(RESULT_FIELDS) <= set(data)
    assert data["strategy"] == "random" and data["workers"] == 1 and data["seed"] == 1
    assert data["evaluations"] == len(data["history"]) == 5
    assert set(data["best_params"]) == {"sigma"}
    assert result.stdout.count("\n") == 1  # one line
    assert data == json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))


def test_quiet_prints_only_the_parameters(images):
    result = invoke(*fit_args(images, "--budget", 4, "--quiet", "--strategy", "random"))
    assert result.exit_code == 0, result.output
    name, value = result.stdout.strip().split("=")
    assert name == "sigma" and 0.3 <= float(value) <= 5
    assert result.stderr == ""


def test_a_seed_repeats_the_run(images):
    first, second = (invoke(*fit_args(images, "--budget", 4, "--json", "--strategy", "tpe")) for _ in range(2))
    history = [[r["params"] for r in json.loads(run.stdout)["history"]] for run in (first, second)]
    assert history[0] == history[1]


def test_every_option_of_the_design(images, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    for budget in (3, 6):  # the second run resumes the same study: the budget counts the first run's trials
        args = fit_args(images, "--budget", budget, "--metric", "mae", "--strategy", "qmc", "--timeout", 30)
        args += ["--border", 2, "--storage", storage, "--study", "blur", "--stop-below", 0, "--json"]
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert (data["metric"], data["strategy"], data["evaluations"]) == ("mae", "qmc", budget)
    assert len(optuna.load_study(study_name="blur", storage=storage).trials) == 6


def test_some_failing_evaluations_do_not_fail_the_run(images, tmp_path):
    args = fit_args(images, "--budget", 8, "--strategy", "random", "--out", tmp_path, param="sigma=1,2,bad")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert data["failed"] > 0
    failures = [r for r in data["history"] if r["state"] == "fail"]
    assert len(failures) == data["failed"]
    assert all(r["params"]["sigma"] == "bad" and "invalid argument for option `-blur'" in r["reason"] for r in failures)
    assert data["best_params"]["sigma"] in (1, 2)
    assert f"({data['failed']} failed)" in result.stdout


def test_two_workers(images):
    result = invoke(*fit_args(images, "--budget", 6, "--workers", 2, "--json"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["workers"] == 2


# --- mistakes: exit 2 and one line --------------------------------------------------------------


@pytest.mark.parametrize(
    "param, message",
    [
        ("sigma=abc", "--param sigma: expected LOW:HIGH or a list a,b,c, but got 'abc'"),
        ("sigma=5:1", "parameter sigma: `low <= high` must hold, but got (low=5.0, high=1.0)"),
        ("sigma=1:x", "--param sigma: HIGH must be a number, but got 'x'"),
        ("sigma=1:5:cubic", "--param sigma: unknown modifier 'cubic'; valid ones are int, log, step=S"),
        ("sigma", "--param must look like name=LOW:HIGH[:int|:log|:step=S] or name=a,b,c, but got 'sigma'"),
    ],
)
def test_a_malformed_param(param, message, images):
    assert_one_line_error(invoke(*fit_args(images, "--budget", 2, param=param)), 2, message)


@pytest.mark.parametrize(
    "command, message",
    [
        ("convert {input} -blur {radius}x{sigma} {output}", "the command uses {radius} but no --param radius=..."),
        ("convert {input} -blur 0x1 {output}", "parameter sigma is not used in the command"),
        ("convert {input} -blur 0x{sigma}", "the command has no {output} placeholder"),
        ("convert {input} -blur 0x{sigma {output}", "has unbalanced braces"),
        ("nosuchprogram {input} {sigma} {output}", "command 'nosuchprogram' is not installed or not on PATH"),
        ("convert {input} 'unclosed {sigma} {output}", "cannot split the command"),
    ],
)
def test_a_bad_command(command, message, images):
    assert_one_line_error(invoke(*fit_args(images, "--budget", 2, command=command)), 2, message)


@pytest.mark.parametrize(
    "options, message",
    [
        (["--budget", 0], "budget must be an integer >= 1 evaluation, but got 0"),
        (["--budget", 2, "--workers", 0], "workers must be an integer >= 1, but got 0"),
        (["--budget", 2, "--timeout", 0], "timeout must be > 0 seconds, but got 0.0"),
        (["--budget", 2, "--border", 16], "a border of 16 pixels leaves nothing of a 32x32 image to compare"),
        (["--budget", 2, "--storage", "bogus://x"], "cannot open the study storage 'bogus://x'"),
        (["--budget", 2, "--storage", "sqlite:////no/such/folder/x.db"], "cannot open the study storage"),
    ],
)
def test_bad_numbers_and_places(options, message, images):
    assert_one_line_error(invoke(*fit_args(images, *options)), 2, message)


def test_out_that_is_a_file(images, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    result = invoke(*fit_args(images, "--budget", 2, "--out", taken))
    assert_one_line_error(result, 2, f"--out {taken} is a file, not a folder")
    assert taken.read_text() == "mine"


def test_click_rejects_an_unknown_strategy_with_the_choices(images):
    result = invoke(*fit_args(images, "--strategy", "simplex"))
    assert result.exit_code == 2
    assert "'simplex' is not one of" in result.stderr and "'auto'" in result.stderr
    assert "Traceback" not in result.output


# --- a run without an answer: exit 1 ------------------------------------------------------------


def test_every_evaluation_failing(images):
    command = "convert {input} -blur 0x{sigma} -nosuchoption {output}"
    result = invoke(*fit_args(images, "--budget", 3, command=command))
    assert_one_line_error(
        result, 1, "all 3 evaluations failed; first reasons: exit code 1: convert: unrecognized option"
    )


# --- the other commands, and the strategies offered ---------------------------------------------


def test_demo_help():
    result = invoke("demo", "--help")
    assert result.exit_code == 0
    assert "recover ImageMagick's -blur 27x20" in result.stdout
    for option in ("--out", "--budget", "--strategy", "--workers", "--seed", "--json"):
        assert option in result.stdout


def test_fit_help_names_the_design_options():
    result = invoke("fit", "--help")
    assert result.exit_code == 0
    for option in (
        "--command",
        "--param",
        "--metric",
        "--strategy",
        "--budget",
        "--timeout",
        "--workers",
        "--seed",
        "--out",
        "--storage",
        "--study",
        "--json",
    ):
        assert option in result.stdout


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"filterfit, version {filterfit.__version__}"


def test_the_cli_offers_exactly_the_registered_strategies():
    get_strategy("random", filterfit.Space.parse(["x=0:1"]))  # registers the built-ins
    assert sorted(STRATEGY_NAMES) == sorted(STRATEGIES)


# --- as a user runs it --------------------------------------------------------------------------


def test_the_installed_script(images, tmp_path):
    source, target = images
    command = [str(SCRIPT), "fit", str(source), str(target), "--command", BLUR, "--param", "sigma=0.3:5"]
    command += ["--budget", "4", "--workers", "1", "--seed", "2", "--json", "--out", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data = json.loads(done.stdout)
    assert set(RESULT_FIELDS) <= set(data) and data["evaluations"] == 4
    assert (tmp_path / "out" / "best.png").is_file()


def test_python_dash_m_reports_a_mistake_in_one_line(images, tmp_path):
    source = images[0]
    command = [sys.executable, "-m", "filterfit", "fit", str(source), str(tmp_path / "missing.png")]
    command += ["--command", BLUR, "--param", "sigma=0.3:5"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"error: image not found: {tmp_path / 'missing.png'} (check the path)"]


# --- the final table in a terminal (issue 5) ----------------------------------------------------


def in_terminal(images, tmp_path, environment: dict[str, str]) -> str:
    """What `filterfit fit` prints in a real (pseudo-)terminal, where rich would colour it."""
    args = [str(SCRIPT), *map(str, fit_args(images, "--budget", 6, "--strategy", "random", "--out", tmp_path / "o"))]
    completed = subprocess.run(
        ["script", "-qec", subprocess.list2cmdline(args), "/dev/null"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "160", **environment},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.mark.slow
def test_the_table_shows_each_interval_and_no_colour_with_no_color(images, tmp_path):
    coloured = in_terminal(images, tmp_path, {})
    plain = in_terminal(images, tmp_path, {"NO_COLOR": "1"})
    for text in (coloured, plain):
        assert "interval" in text and "report.html" in text
        row = next(line for line in text.splitlines() if "sigma" in line and "0.3:5" in line)
        assert re.search(r"\[\d[\d.]*, \d[\d.]*\]", row)  # the measured interval
    assert re.search(r"\x1b\[[0-9;]*3[0-9]m", coloured)  # a colour, where colours are allowed
    assert not re.search(r"\x1b\[[0-9;]*(3[0-9]|9[0-7])m", plain)
