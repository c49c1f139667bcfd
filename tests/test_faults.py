"""Faults during a run: programs that crash, hang, write nothing or garbage, functions and metrics
that return NaN. Each costs one failed evaluation with its reason in result.json and the report;
the run goes on and returns the best complete evaluation, and Ctrl-C keeps what was found.

The faulty programs are small shell scripts (a shell runs them because the template names
``sh``; filterfit itself never runs a shell) and real ``convert``.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import alive, start_in_the_foreground

import filterfit
from filterfit.errors import AllEvaluationsFailedError
from filterfit.images import save_image
from filterfit.metrics import rmse
from filterfit.report import failure_reasons

FAULTY = """\
mode=$1 input=$2 output=$3 pids=$4 small=$5
case $mode in
  ok) cp "$input" "$output" ;;
  exit) echo "faulty: asked to fail" >&2; exit 3 ;;
  segv) kill -SEGV $$ ;;
  hang) sh -c 'sleep 60 & echo $! >> "$0"; wait' "$pids" ;;
  nothing) exit 0 ;;
  size) cp "$small" "$output" ;;
  garbage) printf 'not an image\\n' > "$output" ;;
esac
"""
MODES = ("ok", "exit", "segv", "hang", "nothing", "size", "garbage")
TIMEOUT = 1.0


@pytest.fixture
def pair(tmp_path: Path, small_pixels: np.ndarray) -> tuple[Path, Path]:
    """A 32x32 source and a darker target: copying the source is the best any mode does, but not exact."""
    source = save_image(small_pixels, tmp_path / "source.png")
    return source, save_image(small_pixels * 0.8, tmp_path / "target.png")


@pytest.fixture
def faulty(tmp_path: Path, small_pixels: np.ndarray) -> tuple[str, Path]:
    """The faulty program's template (one {mode} of MODES) and the file where hanging runs note their grandchild."""
    script = tmp_path / "faulty.sh"
    script.write_text(FAULTY, encoding="utf-8")
    pids = tmp_path / "grandchildren.pid"
    small = save_image(small_pixels[:16, :16], tmp_path / "small.png")
    quoted = " ".join(shlex.quote(str(path)) for path in (pids, small))
    return f"sh {shlex.quote(str(script))} {{mode}} {{input}} {{output}} {quoted}", pids


def wait_until_dead(pids: list[int], seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(map(alive, pids)):
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


EXPECTED_REASONS = {
    "exit": "exit code 3: faulty: asked to fail",
    "segv": "killed by signal SIGSEGV: (no message on stderr)",
    "hang": f"timed out after {TIMEOUT:g} s (raise --timeout if it needs longer)",
    "nothing": "'sh' exited 0 but wrote no output file",
    "size": "the output is 16x16 but the target is 32x32",
    "garbage": "unreadable image on the output file: cannot read it as an image (not an image file)",
}


@pytest.mark.slow
def test_every_kind_of_fault_is_a_failed_evaluation_with_its_reason(faulty, pair, tmp_path):
    template, pids = faulty
    started = time.monotonic()
    result = filterfit.fit(
        template, {"mode": list(MODES)}, *pair, strategy="random", budget=24, workers=2, seed=1,
        timeout=TIMEOUT, out=tmp_path / "out", probes=0,
    )  # fmt: skip
    assert time.monotonic() - started < 30  # no hang waited for its grandchild's 60 s
    assert (result.evaluations, result.best_params) == (24, {"mode": "ok"})
    assert result.best_error == pytest.approx(rmse(*(filterfit.images.load_image(p).pixels for p in pair)), abs=1e-6)
    saved = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))
    reasons = {record["params"]["mode"]: record["reason"] for record in saved["history"]}
    assert reasons == {"ok": None, **EXPECTED_REASONS}  # every mode was tried, each failed for its reason
    assert all((r["state"] == "fail") == (r["params"]["mode"] != "ok") for r in saved["history"])
    assert all(r["error"] is None for r in saved["history"] if r["state"] == "fail")
    assert saved["failed"] == result.failed == sum(r["params"]["mode"] != "ok" for r in saved["history"])
    # the report lists the reasons with their counts
    listed = dict(failure_reasons(result, limit=10))
    assert set(listed) == set(EXPECTED_REASONS.values()) and sum(listed.values()) == result.failed
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "timed out after 1 s" in page and "killed by signal SIGSEGV" in page
    # each hang's grandchild (a sleep started by a child of the program) was killed with it
    grandchildren = [int(pid) for pid in pids.read_text().split()]
    assert len(grandchildren) == sum(r["params"]["mode"] == "hang" for r in saved["history"]) > 0
    assert wait_until_dead(grandchildren) == []


def test_every_evaluation_failing_gives_the_first_reasons_and_exit_1(faulty, pair, tmp_path):
    template, _ = faulty
    command = [sys.executable, "-m", "filterfit", "fit", *map(str, pair), "--command", template]
    command += ["--param", "mode=exit,segv,garbage,nothing", "--strategy", "random", "--budget", "8"]
    command += ["--workers", "1", "--seed", "0", "--out", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: all 8 evaluations failed; first reasons: ")
    reasons = line.split("first reasons: ", 1)[1].split(" | ")
    assert len(reasons) == 3 and set(reasons) <= set(EXPECTED_REASONS.values())
    assert "Traceback" not in done.stderr and done.stdout == ""


def flaky_gain(pixels, gain):
    """Brightens; NaN pixels above gain 1.5 and infinite ones below 0.6."""
    if gain > 1.5:
        return np.full_like(pixels, np.nan)
    if gain < 0.6:
        return np.where(pixels > 0.5, np.inf, pixels)
    return pixels * gain


def test_a_function_returning_nan_or_inf_fails_those_evaluations(small_pixels):
    target = np.clip(small_pixels * 1.2, 0, 1)
    result = filterfit.fit(
        flaky_gain, {"gain": (0.2, 2.0)}, small_pixels, target, strategy="random", budget=30, workers=1, seed=0,
        probes=0,
    )  # fmt: skip
    failed = [r for r in result.history if r.state == "fail"]
    assert failed and all(r.reason == "the function returned NaN or infinite pixels" for r in failed)
    assert all(r.params["gain"] > 1.5 or r.params["gain"] < 0.6 for r in failed)
    assert 0.6 <= result.best_params["gain"] <= 1.5
    assert result.best_error == min(r.error for r in result.history if r.state == "complete")
    assert json.loads(result.to_json())["failed"] == len(failed)


def picky_metric(reference, candidate):
    """RMSE, but NaN for bright renders, infinite for dark ones, and an exception in between for some."""
    mean = float(np.mean(candidate))
    if mean > 0.6:
        return math.nan
    if mean < 0.2:
        return math.inf
    if 0.3 < mean < 0.32:
        raise ValueError(f"cannot score a mean of {mean:.3f}")
    return rmse(reference, candidate)


def test_a_metric_returning_nan_inf_or_raising_fails_those_evaluations(small_pixels):
    result = filterfit.fit(
        lambda pixels, gain: pixels * gain, {"gain": (0.0, 2.0)}, small_pixels, small_pixels * 0.9,
        metric=picky_metric, strategy="random", budget=60, workers=1, seed=0, probes=0,
    )  # fmt: skip
    reasons = {r.reason for r in result.history if r.state == "fail"}
    assert "the metric picky_metric returned nan" in reasons
    assert "the metric picky_metric returned inf" in reasons
    assert any(r.startswith("the metric picky_metric raised ValueError: cannot score a mean of 0.3") for r in reasons)
    assert result.best_params["gain"] == pytest.approx(0.9, abs=0.05)
    assert math.isfinite(result.best_error)
    assert json.loads(result.to_json())["best_error"] == result.best_error


def test_a_function_metric_failing_everywhere_names_the_first_reasons(small_pixels):
    with pytest.raises(
        AllEvaluationsFailedError, match=r"^all 3 evaluations failed; first reasons: the metric <lambda> returned nan$"
    ):
        filterfit.fit(
            lambda pixels, gain: pixels * gain, {"gain": (0.0, 2.0)}, small_pixels, small_pixels,
            metric=lambda reference, candidate: math.nan, strategy="random", budget=3, workers=1, probes=0,
        )  # fmt: skip


# --- Ctrl-C during the crop phase ----------------------------------------------------------------

SLOW_COPY = """\
echo "$3" >> "$4"
sleep 0.2
cp "$1" "$2"
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_during_the_crop_phase_writes_the_result_so_far_and_exits_130(workers, tmp_path):
    """A real SIGINT to `python -m filterfit fit --crop` while its program sleeps in the crop phase."""
    rng = np.random.default_rng(0)
    source = save_image(rng.uniform(0.2, 0.8, (800, 800, 3)).astype(np.float32), tmp_path / "source.png")
    target = save_image(load(source) * 0.7, tmp_path / "target.png")
    script, log, out = tmp_path / "slow.sh", tmp_path / "calls.log", tmp_path / "out"
    script.write_text(SLOW_COPY, encoding="utf-8")
    command = [sys.executable, "-m", "filterfit", "fit", str(source), str(target), "--crop", "--workers", str(workers)]
    command += ["--command", f"sh {shlex.quote(str(script))} {{input}} {{output}} {{gain}} {shlex.quote(str(log))}"]
    command += ["--param", "gain=0:1", "--strategy", "random", "--budget", "200", "--seed", "0", "--out", str(out)]
    code, stderr, _ = interrupted(command, log, calls=3)
    assert code == 130, stderr
    assert "interrupted: run the same command again (same --out" in stderr
    assert "Traceback" not in stderr and "evaluations failed" not in stderr
    saved = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert saved["stopped"] == "interrupted"
    assert 3 - workers <= saved["evaluations"] < 150  # with one worker, two finished before the third started
    assert {record["fidelity"] for record in saved["history"]} == {"crop 768x768+16+16"}
    assert saved["best_params"]["gain"] in [record["params"]["gain"] for record in saved["history"]]
    assert any("interrupted while searching the 768x768+16+16 crop" in warning for warning in saved["warnings"])
    assert (out / "best.png").is_file() and (out / "report.html").is_file()


def load(path: Path) -> np.ndarray:
    return filterfit.images.load_image(path).pixels


# --- the acceptance test of issue 7 --------------------------------------------------------------

# convert -blur, except for 30% of the sigmas, chosen by a seeded hash of the value so that a rerun
# fails on the same ones: a crash, a hang past --timeout (with a child to kill), or garbage output.
FAULTY_BLUR = """\
sigma=$1 input=$2 output=$3
bucket=$(printf 'seed 7 %s' "$sigma" | md5sum | cut -c1-6)
case $((0x$bucket % 10)) in
  0) kill -SEGV $$ ;;
  1) sleep 30 & wait ;;
  2) printf 'garbage for %s\\n' "$sigma" > "$output" ;;
  *) exec convert "$input" -blur "0x$sigma" "$output" ;;
esac
"""
CLEAN_BUDGET = 40


@pytest.mark.slow
@pytest.mark.requires("convert", "md5sum")
@pytest.mark.parametrize("seed", [0, 4])
def test_a_run_with_30_percent_failures_reaches_the_clean_runs_answer(seed, photo, tmp_path):
    source = tmp_path / "source.png"
    subprocess.run(["convert", str(photo), "-crop", "64x64+0+0", str(source)], check=True, capture_output=True)
    target = tmp_path / "target.png"
    subprocess.run(["convert", str(source), "-blur", "0x1.5", str(target)], check=True, capture_output=True)
    script = tmp_path / "faulty-blur.sh"
    script.write_text(FAULTY_BLUR, encoding="utf-8")
    options = dict(strategy="auto", workers=2, seed=seed, timeout=1.0, probes=0)
    clean = filterfit.fit("convert {input} -blur 0x{sigma} {output}", ["sigma=0.3:5"], source, target,
                          budget=CLEAN_BUDGET, **options)  # fmt: skip
    faulty = filterfit.fit(f"sh {shlex.quote(str(script))} {{sigma}} {{input}} {{output}}", ["sigma=0.3:5"],
                           source, target, budget=CLEAN_BUDGET + 20, **options)  # fmt: skip
    assert clean.failed == 0
    assert 0.15 <= faulty.failed / faulty.evaluations <= 0.45
    reasons = {r.reason.split(":")[0] for r in faulty.history if r.state == "fail"}
    assert reasons == {"killed by signal SIGSEGV", "timed out after 1 s (raise --timeout if it needs longer)",
                       "unreadable image on the output file"}  # fmt: skip
    assert clean.best_params["sigma"] == pytest.approx(1.5, abs=1e-3)
    assert faulty.best_params["sigma"] == pytest.approx(clean.best_params["sigma"], abs=1e-3)
    assert faulty.best_error < 2e-4


@pytest.mark.slow
def test_ctrl_c_before_any_evaluation_finished_exits_130_with_one_line(small_photo, tmp_path):
    """A real SIGINT while the first evaluation runs: its program is killed, and the exit says Ctrl-C."""
    log = tmp_path / "calls.log"
    command = [sys.executable, "-m", "filterfit", "fit", str(small_photo), str(small_photo), "--workers", "1"]
    command += ["--command", f"sh -c 'echo $1 >> {shlex.quote(str(log))}; sleep 30' sh {{gain}} {{input}} {{output}}"]
    command += ["--param", "gain=0:1", "--budget", "10", "--out", str(tmp_path / "out")]
    code, stderr, seconds = interrupted(command, log, calls=1)
    assert code == 130, stderr
    assert stderr.strip() == "error: interrupted before any evaluation finished: there is no answer yet"
    assert seconds < 20, "Ctrl-C waited for the 30 s program instead of killing it"


def interrupted(command: list[str], log: Path, calls: int) -> tuple[int, str, float]:
    """Run ``command``; once ``log`` names ``calls`` program runs, send SIGINT. Exit code, stderr, seconds to end."""
    process = start_in_the_foreground(command)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not log.exists() or len(log.read_text().split()) < calls):
            time.sleep(0.05)
        assert log.exists() and len(log.read_text().split()) >= calls, "the program did not start"
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=60)
        return process.returncode, stderr, time.monotonic() - sent
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate()
