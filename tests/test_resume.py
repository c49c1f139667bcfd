"""Resuming a run from its folder, Ctrl-C, and local workers sharing the folder's journal.

Real processes throughout: ``filterfit`` runs as a subprocess, is killed with
SIGKILL or interrupted with SIGINT, and is started again on the same folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import start_in_the_foreground
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from filterfit.images import save_image

pytestmark = pytest.mark.requires("convert")

FILTERFIT = [sys.executable, "-m", "filterfit"]
GAIN = "convert {input} -evaluate multiply {gain} {output}"
# Slow enough to be caught in the middle, cheap in CPU: a sleep, then a tiny ImageMagick render.
SLOW_GAIN = 'sh -c "sleep 0.05 && convert {input} -evaluate multiply {gain} {output}"'
SLOWER_GAIN = SLOW_GAIN.replace("0.05", "0.2")


@pytest.fixture
def blur_images(tmp_path: Path) -> tuple[Path, Path]:
    """A 16x24 textured source and ImageMagick's -blur 3x1.5 of it."""
    y, x = np.mgrid[0:16, 0:24].astype(np.float32)
    pixels = np.stack([x / 23, y / 15, 0.5 + 0.4 * np.sin(x * 0.9) * np.cos(y * 1.3)], axis=2)
    source = save_image(pixels.astype(np.float32), tmp_path / "blur-source.png")
    target = tmp_path / "blur-target.png"
    subprocess.run(["convert", str(source), "-blur", "3x1.5", str(target)], check=True)
    return source, target


def fit_command(gain_images, out: Path, *extra: str, command: str = GAIN, param: str = "gain=0.5:2") -> list[str]:
    source, target = gain_images
    args = ["fit", str(source), str(target), "--command", command, "--param", param, "--seed", "3", "--quiet"]
    return [*FILTERFIT, *args, "--out", str(out), *extra]


def start(args: list[str], **options) -> subprocess.Popen:
    """A filterfit process in a session of its own, so that a kill reaches its worker processes too."""
    return start_in_the_foreground(args, start_new_session=True, **options)


def journal_trials(out: Path) -> list[optuna.trial.FrozenTrial]:
    storage = JournalStorage(JournalFileBackend(str(out / "study.journal")))
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def wait_for_complete(out: Path, count: int, process: subprocess.Popen, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, f"finished before {count} evaluations: {process.communicate()}"
        if (out / "study.journal").exists():
            try:
                if sum(t.state == TrialState.COMPLETE for t in journal_trials(out)) >= count:
                    return
            except ValueError:  # no study yet
                pass
        time.sleep(0.2)  # reading the journal costs CPU the run needs
    raise AssertionError(f"fewer than {count} evaluations after {limit} s")


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def completed(trials) -> dict[int, tuple[dict, float]]:
    return {t.number: (t.params, t.value) for t in trials if t.state == TrialState.COMPLETE}


OUTPUT_FILES = {
    "study.journal",
    "study.journal.flock",
    "result.json",
    "best.png",
    "diff.png",
    "convergence.png",
    "report.html",
}


def param_keys(trials) -> list[tuple]:
    """The parameters of every evaluation (not of trials abandoned before they had parameters)."""
    evaluated = [t for t in trials if t.state == TrialState.COMPLETE or "reason" in t.user_attrs]
    return [tuple(sorted(t.params.items())) for t in evaluated]


def killed_and_resumed(args: list[str], out: Path, after: int) -> dict[int, tuple[dict, float]]:
    """Run ``args``, SIGKILL it after ``after`` evaluations, run it again; returns the evaluations before the kill."""
    process = start(args)
    wait_for_complete(out, after, process)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    before = completed(journal_trials(out))
    assert not (out / "result.json").exists(), "the run finished before the kill"
    code, _, stderr = finish(start(args))
    assert code == 0, stderr
    return before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("strategy", "template", "params", "budget", "after"),
    [
        ("qmc", "convert {input} -evaluate multiply {gain} {output}", ["gain=0.5:2"], 40, 12),
        ("auto", "convert {input} -blur {radius}x{sigma} {output}", ["radius=0:8", "sigma=0.3:4"], 40, 20),
    ],
)
def test_a_killed_run_resumes_without_losing_or_repeating_an_evaluation(
    strategy, template, params, budget, after, gain_images, blur_images, tmp_path
):
    import filterfit

    pair = gain_images if strategy == "qmc" else blur_images
    # the uninterrupted run, in this process (the same renders without the sleep that lets the test catch the other)
    whole = filterfit.fit(template, params, *pair, strategy=strategy, budget=budget, workers=2, seed=3)
    slow = 'sh -c "sleep 0.05 && ' + template + '"'
    extra = ["--strategy", strategy, "--budget", str(budget), "--workers", "2"]
    args = fit_command(pair, tmp_path / "killed", *extra, param=params[0])
    args = [*args[: args.index("--command") + 1], slow, *args[args.index("--command") + 2 :]]
    args += [arg for param in params[1:] for arg in ("--param", param)]
    before = killed_and_resumed(args, tmp_path / "killed", after)

    trials = journal_trials(tmp_path / "killed")
    assert all(completed(trials)[number] == record for number, record in before.items())  # none lost or redone
    assert len(param_keys(trials)) == len(set(param_keys(trials)))  # nothing evaluated twice
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    resumed = json.loads((tmp_path / "killed" / "result.json").read_text())
    assert resumed["evaluations"] == whole.evaluations <= budget
    # A sampler's trial asked just as the kill came, before it had its parameters, is abandoned on resume
    # (failed, no parameters); QMC's sequence had moved on for it, so the run then evaluates the next point
    # of the sequence instead (seen once in ~10 runs under load). Every point is still the sequence's own.
    abandoned = [t for t in trials if t.state == TrialState.FAIL and not t.params]
    if abandoned:
        longer = filterfit.fit(
            template, params, *pair, strategy=strategy, budget=budget + len(abandoned), workers=2, seed=3
        )
        errors = {tuple(sorted(r.params.items())): r.error for r in longer.history}
        assert set(param_keys(trials)) <= set(errors)
        assert resumed["best_error"] == min(errors[key] for key in param_keys(trials))
    else:
        assert (resumed["best_params"], resumed["best_error"]) == (whole.best_params, whole.best_error)
        assert sorted(param_keys(trials)) == sorted(tuple(sorted(r.params.items())) for r in whole.history)
    # nothing per evaluation beside the study's record; auto renders again what its least squares replays
    assert {path.name for path in (tmp_path / "killed").iterdir()} <= OUTPUT_FILES
    assert (resumed["replayed"] > 0) == (strategy == "auto")
    assert resumed["replayed"] <= len(before) + 2  # the completed evaluations, and those in flight at the kill


def test_a_resumed_folder_of_another_problem_is_refused(gain_images, tmp_path):
    import filterfit
    from filterfit.study import DefinitionError

    filterfit.fit(GAIN, ["gain=0.5:2"], *gain_images, budget=3, workers=1, out=tmp_path / "out")
    message = (
        rf"{tmp_path / 'out'} already holds a study of another problem: its space differs "
        r"\(study: gain=0.5:2; now: gain=0.5:3\); resume with the same problem, or use a new --out folder"
    )
    with pytest.raises(DefinitionError, match=message):
        filterfit.fit(GAIN, ["gain=0.5:3"], *gain_images, budget=3, workers=1, out=tmp_path / "out")
    with pytest.raises(DefinitionError, match=r"its images \(by SHA-256 of their bytes\) differs"):
        filterfit.fit(GAIN, ["gain=0.5:2"], gain_images[1], gain_images[0], budget=3, workers=1, out=tmp_path / "out")


def test_a_finished_folder_grows_with_a_larger_budget(gain_images, tmp_path):
    import filterfit

    for budget in (6, 10):
        result = filterfit.fit(GAIN, ["gain=0.5:2"], *gain_images, strategy="qmc", budget=budget, out=tmp_path / "out")
        assert result.evaluations == budget
    assert len(journal_trials(tmp_path / "out")) == 10


@pytest.mark.slow
def test_ctrl_c_writes_the_result_so_far_and_says_how_to_resume(gain_images, tmp_path):
    out = tmp_path / "out"
    args = fit_command(gain_images, out, "--strategy", "qmc", "--budget", "40", "--workers", "2", command=SLOW_GAIN)
    process = start(args)
    wait_for_complete(out, 6, process)
    process.send_signal(signal.SIGINT)
    code, _, stderr = finish(process, timeout=30)
    assert code == 130, stderr
    assert f"interrupted: run the same command again (same --out {out}) to resume" in stderr
    evaluations = json.loads((out / "result.json").read_text())["evaluations"]
    assert 6 <= evaluations < 40
    code, _, stderr = finish(start(args))
    assert code == 0, stderr
    assert json.loads((out / "result.json").read_text())["evaluations"] == 40
    trials = journal_trials(out)
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == 40
    # a trial asked for just as Ctrl-C came, before it had its parameters, is abandoned (failed) on resume
    assert all(t.state == TrialState.FAIL and not t.params for t in trials if t.state != TrialState.COMPLETE)
    assert len(trials) <= 40 + 2


@pytest.mark.slow
def test_four_local_workers_share_the_folder_journal_without_storage_errors(gain_images, tmp_path):
    out = tmp_path / "out"
    budget = 300
    # the sleep keeps the starter from spending the budget alone while the workers start (at 0.05 s a
    # worker started on a busy 2-core machine found the budget spent)
    args = fit_command(
        gain_images, out, "--strategy", "random", "--budget", str(budget), "--workers", "1", command=SLOWER_GAIN
    )
    starter = start(args)
    wait_for_complete(out, 1, starter)
    workers = [start([*FILTERFIT, "worker", "--storage", str(out), "--workers", "1", "--quiet"]) for _ in range(4)]
    outcomes = [finish(process, timeout=300) for process in [starter, *workers]]
    for code, _, stderr in outcomes:
        assert code == 0, stderr
        assert "locked" not in stderr and "Error" not in stderr and "Traceback" not in stderr, stderr
    trials = journal_trials(out)
    evaluated = [t for t in trials if t.state == TrialState.COMPLETE]
    assert budget <= len(evaluated) <= budget + 4  # the last asks may race: at most one per other process
    assert len(trials) == len(evaluated)
    assert len({t.user_attrs["owner"] for t in trials}) == 5  # every process took part


def test_a_resumed_auto_replays_its_search_rendering_again_only_what_needs_residuals(tmp_path):
    """Interrupted from inside (a real KeyboardInterrupt), resumed in-process: renders are counted.

    The folder keeps the study and nothing per evaluation: the replayed evaluations' errors come from the
    study, their residuals (which least squares needs) from rendering them again, counted as ``replayed``.
    """
    import filterfit

    rng = np.random.default_rng(1)
    source = rng.uniform(0.1, 0.7, (12, 16, 3)).astype(np.float32)
    target = np.clip(source * 1.37 - 0.05, 0, 1)
    space = {"gain": (0.5, 2.0), "offset": (-0.2, 0.2)}
    renders: list[dict] = []

    def linear(image, gain, offset):
        renders.append({"gain": gain, "offset": offset})
        return np.clip(image * gain + offset, 0, 1)

    def stop_after(count):
        def callback(progress):
            if progress.evaluations >= count:
                raise KeyboardInterrupt

        return callback

    options = {"budget": 40, "workers": 1, "seed": 2, "stop_below": 0, "probes": 0}  # probes render too
    whole = filterfit.fit(linear, space, source, target, out=tmp_path / "whole", **options)
    renders.clear()
    first = filterfit.fit(linear, space, source, target, out=tmp_path / "cut", callback=stop_after(25), **options)
    assert (first.stopped, first.evaluations, len(renders)) == ("interrupted", 25, 25 + 1)  # + best.png
    renders.clear()
    resumed = filterfit.fit(linear, space, source, target, out=tmp_path / "cut", **options)
    assert sorted(path.name for path in (tmp_path / "cut").iterdir() if path.is_dir()) == []  # no residuals/
    assert resumed.replayed == 25  # every replayed complete evaluation fed least squares
    assert len(renders) == resumed.renders == whole.evaluations - 25 + resumed.replayed + 1  # + best.png
    assert resumed.evaluations == whole.evaluations == 40  # the 25 counted once, from the study
    assert (resumed.best_params, resumed.best_error, resumed.stopped) == (
        whole.best_params,
        whole.best_error,
        whole.stopped,
    )
    assert [r.params for r in resumed.history] == [r.params for r in whole.history]
