"""Hostile values: file names and parameter values that a shell would run reach programs as plain text.

Every value below would create the file CANARY if any part of filterfit handed it to a shell
(``;``, ``$( )``, backticks, ``|``, ``&``, quotes that close a quoted string, a newline). The
"program" is a small Python script that records its argv and copies its input to its output, so
each test checks both that CANARY never appears and that the program got exactly the intended
strings, one argv element each.

File names never reach a program at all: a program that reads files gets filterfit's own
absolute names in its private scratch folder (ImageMagick gets pipes), so a user's file named
``-rf.png`` or ``--help.png`` cannot be taken for an option.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_cli import invoke

import filterfit
from filterfit.filters import CommandFilter
from filterfit.images import Image, load_image, save_image

CANARY = "CANARY"
HOSTILE = (
    "x; touch CANARY",
    "$(touch CANARY)",
    "`touch CANARY`",
    "a | touch CANARY",
    "a && touch CANARY &",
    "'; touch CANARY; echo '",
    '"; touch CANARY; echo "',
    "line\ntouch CANARY",
    "> CANARY",
    "-rf",
    "--output=CANARY",
    " spaced  out ",
    "ünïcødé 🎞 фото",
    "*",
    "~",
    "$HOME",
    "back\\slash",
)
# Through the command line, a choice is one comma-separated word of --param: no commas, no colon,
# no edge spaces (they are stripped).
CLI_HOSTILE = tuple(value for value in HOSTILE if value == value.strip() and not set(value) & set(",:"))
HOSTILE_NAMES = (
    "-rf $(touch CANARY).png",
    "--help; touch CANARY`touch CANARY`.png",
    'it\'s "quoted" | touch CANARY & .png',
    "new\nline.png",
    "фото ünïcødé.png",
    "frame.png[0]",  # ImageMagick would read [0] as a frame selector
)

RECORDER = """\
import hashlib, json, shutil, sys
log, source, output, *rest = sys.argv[1:]
data = open(source, "rb").read()
with open(log, "a", encoding="utf-8") as file:
    file.write(json.dumps({"argv": sys.argv[1:], "input_sha256": hashlib.sha256(data).hexdigest()}) + "\\n")
shutil.copyfile(source, output)
"""


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A command prefix running the recording script, and the log it appends one JSON line to per run.

    The tests run in tmp_path, where a shell would have created CANARY.
    """
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "record.py"
    script.write_text(RECORDER, encoding="utf-8")
    log = tmp_path / "argv.jsonl"
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(str(log))}", log


def runs(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def assert_no_canary(folder: Path) -> None:
    assert not [path for path in folder.rglob("*") if path.name == CANARY], "a shell ran a hostile value"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pair(tmp_path: Path, small_pixels: np.ndarray) -> tuple[Path, Path]:
    """A source and a target that no render equals (so no fit stops early), with plain names."""
    source = save_image(small_pixels, tmp_path / "source.png")
    return source, save_image(small_pixels * 0.8, tmp_path / "target.png")


# --- parameter values ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [v for v in HOSTILE if CANARY in v and not v.startswith("--")])
def test_each_canary_is_live_in_a_shell(value, tmp_path):
    """What the tests below guard against: the same text pasted into a shell command does create CANARY.

    A value that starts with a quote breaks out of a word quoted that way.
    """
    quote = value[0] if value[0] in "'\"" else ""
    subprocess.run(["sh", "-c", f"echo {quote}{value}{quote}"], cwd=tmp_path, capture_output=True, check=False)
    assert (tmp_path / CANARY).exists()


def test_each_hostile_choice_reaches_the_program_as_one_argument(recorder, tmp_path, small_pixels):
    prefix, log = recorder
    template = f"{prefix} {{input}} {{output}} --mode {{mode}} --mode={{mode}} {{mode!r}} {{mode:*^40}} {{gain:.3f}}"
    image = Image(small_pixels, path=None)
    command = CommandFilter(template).prepare([image], image, single_thread=False)
    command.check(filterfit.Space([filterfit.Param("mode", kind="choice", choices=HOSTILE), filterfit.Param("gain")]))
    for value in HOSTILE:
        rendered = command.render(image, {"mode": value, "gain": 0.5})
        assert rendered.shape == small_pixels.shape
    recorded = [run["argv"][3:] for run in runs(log)]
    assert recorded == [["--mode", v, f"--mode={v}", repr(v), format(v, "*^40"), "0.500"] for v in HOSTILE]
    assert_no_canary(tmp_path)


@pytest.mark.slow
def test_a_fit_over_hostile_choices_runs_no_shell(recorder, pair, tmp_path):
    prefix, log = recorder
    source, target = pair
    result = filterfit.fit(
        f"{prefix} {{input}} {{output}} {{mode}}",
        {"mode": list(HOSTILE)},
        source,
        target,
        strategy="random",
        budget=24,
        workers=2,
        seed=0,
        out=tmp_path / "out",
        probes=0,
    )
    assert result.failed == 0 and result.evaluations == 24
    recorded = [run["argv"] for run in runs(log)]
    assert len(recorded) >= 24  # and the best's render for best.png
    assert all(len(argv) == 4 for argv in recorded)
    assert {argv[3] for argv in recorded} <= set(HOSTILE)
    assert len({argv[3] for argv in recorded}) >= 10  # most of them were tried
    assert result.best_params["mode"] in HOSTILE
    saved = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))
    assert {record["params"]["mode"] for record in saved["history"]} == {argv[3] for argv in recorded}
    assert_no_canary(tmp_path)


# --- file names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_program_gets_filterfits_own_absolute_file_names(name, recorder, tmp_path, small_pixels):
    """The program reads the very bytes of the user's file, under a name that cannot be an option."""
    prefix, log = recorder
    source = save_image(small_pixels, tmp_path / name)
    command = CommandFilter(f"{prefix} {{input}} {{output}}")
    image = load_image(source)
    command.prepare([image], image, single_thread=False).render(image, {})
    (run,) = runs(log)
    given, output = run["argv"][1:3]
    assert given.startswith("/") and output.startswith("/")
    assert Path(given).name.startswith("in-") and Path(given).suffix in (".png", ".jpg", ".tif", ".pnm")
    assert Path(output).name.startswith("out-")
    assert run["input_sha256"] == sha256(source)
    assert_no_canary(tmp_path)


@pytest.mark.requires("convert")
def test_the_command_line_with_hostile_names_and_choices(recorder, pair, tmp_path):
    """SOURCE, TARGET and --out named to break a shell, a leading '-' included (after --, as click needs)."""
    prefix, log = recorder
    source, target = pair
    hostile_source = source.rename(tmp_path / HOSTILE_NAMES[0])
    hostile_target = target.rename(tmp_path / HOSTILE_NAMES[2])
    out = tmp_path / "out; touch CANARY $(touch CANARY)"
    args = ["fit", "--command", f"{prefix} {{input}} {{output}} {{mode}}", "--param", "mode=" + ",".join(CLI_HOSTILE)]
    args += ["--budget", 10, "--strategy", "random", "--workers", 1, "--seed", 3, "--probes", 0, "--quiet"]
    result = invoke(*args, "--out", out, "--", hostile_source.name, hostile_target.name)
    assert result.exit_code == 0, result.output
    assert {run["argv"][3] for run in runs(log)} <= set(CLI_HOSTILE)
    assert {run["input_sha256"] for run in runs(log)} == {sha256(hostile_source)}
    saved = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert saved["sources"] == [str(hostile_source)] and saved["targets"] == [str(hostile_target)]
    assert saved["space"] == ["mode=" + ",".join(CLI_HOSTILE)]
    assert (out / "best.png").is_file() and (out / "report.html").is_file()
    assert_no_canary(tmp_path)


@pytest.mark.requires("convert")
def test_imagemagick_through_pipes_with_hostile_names(tmp_path, small_photo, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = tmp_path / HOSTILE_NAMES[1]
    source.write_bytes(small_photo.read_bytes())
    target = tmp_path / HOSTILE_NAMES[4]
    subprocess.run(["convert", str(small_photo), "-blur", "0x1.5", str(target)], check=True, capture_output=True)
    out = tmp_path / "-out `touch CANARY`"
    args = ["fit", "--command", "convert {input} -blur 0x{sigma} {output}", "--param", "sigma=0.3:5"]
    result = invoke(*args, "--budget", 8, "--workers", 1, "--seed", 1, "--json", "--out", out, "--", source, target)
    assert result.exit_code == 0, result.output
    saved = json.loads(result.stdout)
    assert (saved["evaluations"], saved["failed"]) == (8, 0)
    assert saved["sources"] == [str(source)] and saved["targets"] == [str(target)]
    assert (out / "result.json").is_file()
    assert_no_canary(tmp_path)


def test_apply_to_hostile_names_into_a_hostile_folder(recorder, pair, tmp_path):
    prefix, log = recorder
    source, target = pair
    result = filterfit.fit(
        f"{prefix} {{input}} {{output}} {{mode}}",
        {"mode": ["$(touch CANARY)", "`touch CANARY`"]},
        source,
        target,
        strategy="random",
        budget=2,
        workers=1,
        seed=0,
        probes=0,
    )
    result.save(tmp_path / "result.json")
    photos = [source.with_name(name) for name in HOSTILE_NAMES[:5]]
    for photo in photos:
        photo.write_bytes(source.read_bytes())
    out = tmp_path / "styled; touch CANARY"
    log.unlink()
    done = invoke("apply", tmp_path / "result.json", *photos, "--out", out, "--workers", 2, "--quiet")
    assert done.exit_code == 0, done.output
    assert sorted(path.name for path in out.iterdir()) == sorted(HOSTILE_NAMES[:5])
    recorded = runs(log)
    assert len(recorded) == 5
    assert all(run["argv"][1].startswith("/") and run["argv"][3] == result.best_params["mode"] for run in recorded)
    assert all(np.array_equal(load_image(out / photo.name).pixels, load_image(photo).pixels) for photo in photos)
    assert_no_canary(tmp_path)


def test_export_quotes_hostile_values_for_a_shell(recorder, pair, tmp_path):
    """export --command prints a line for a shell: run through one, it passes the same single arguments."""
    prefix, log = recorder
    source, target = pair
    result = filterfit.fit(
        f"{prefix} {{input}} {{output}} {{mode}}", {"mode": [HOSTILE[0], HOSTILE[2]]}, source, target,
        strategy="random", budget=4, workers=1, seed=0, probes=0,
    )  # fmt: skip
    value = result.best_params["mode"]  # both give the same render: the first one evaluated
    saved = result.save(tmp_path / "result.json")
    printed = invoke("export", saved, "--command")
    assert printed.exit_code == 0, printed.output
    line = printed.stdout.strip()
    assert shlex.split(line)[-1] == value
    log.unlink()
    source.with_name("input.png").write_bytes(source.read_bytes())
    subprocess.run(["sh", "-c", line], cwd=tmp_path, check=True, capture_output=True)  # the user's own shell
    (run,) = runs(log)
    assert run["argv"][1:] == ["input.png", "output.png", value]
    assert_no_canary(tmp_path)


# --- values and format specs no program can take ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "cannot start 'sh': embedded null byte in an argument"),
        ("\ud800", "cannot start 'sh': 'utf-8' codec can't encode character '\\ud800'"),
    ],
)
def test_a_value_no_argv_can_hold_fails_one_evaluation(value, reason, small_pixels):
    """From Python any string can be a choice; the one the OS cannot pass costs its evaluation only."""
    image = Image(small_pixels)
    problem = filterfit.problem.Problem(
        CommandFilter('sh -c \'cp "$0" "$1"\' {input} {output} {mode}'),
        filterfit.Space([filterfit.Param("mode", kind="choice", choices=(value, "fine"))]),
        [(image, image)],
        filterfit.metrics.get_metric("rmse"),
    )
    failed = problem.evaluate({"mode": value})
    assert not failed.ok and failed.reason.startswith(reason)
    assert problem.evaluate({"mode": "fine"}).ok


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("prog {input} {a!x} {output}", r"placeholder \{a!x\} in '\{a!x\}': the conversion must be !r, !s or !a"),
        ("prog {input} {a:{b}} {output}", r"placeholder \{a:\{b\}\} .* nests braces in its format spec"),
        ("prog {input} {a:>999999999} {output}", r"asks for a width or precision above 9999"),
    ],
)
def test_format_specs_that_would_misbehave_are_refused(template, message):
    with pytest.raises(filterfit.errors.TemplateError, match=message):
        CommandFilter(template)


def test_a_format_spec_that_fits_no_choice_is_refused_before_the_run(pair):
    with pytest.raises(filterfit.errors.TemplateError, match=r"the format spec :\.2f does not fit the value 'soft'"):
        filterfit.fit("sh -c 'exit 1' {input} {output} {mode:.2f}", ["mode=1.5,soft"], *pair, budget=2)


def test_the_command_line_names_a_format_spec_that_fits_no_choice(pair):
    source, target = pair
    result = invoke("fit", source, target, "--command", "prog {input} -x {gain:d} {output}", "--param", "gain=0:1")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: the format spec :d does not fit the value 0.0 (Unknown format code 'd' for object of type 'float'): "
        "change the spec or the values"
    ]
