"""Several ``filterfit worker`` processes sharing one study through a real PostgreSQL server.

The fixture starts a throw-away server on loopback with Debian's ``initdb``
and ``pg_ctl`` (installed by scripts/ensure-system.sh). They refuse to run as
root, so as root they run as the ``postgres`` user (or ``nobody``).
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from filterfit.images import save_image

pytestmark = [pytest.mark.requires("convert"), pytest.mark.slow]

FILTERFIT = [sys.executable, "-m", "filterfit"]
SLOW_GAIN = 'sh -c "sleep 0.05 && convert {input} -evaluate multiply {gain} {output}"'
SLOWER_GAIN = SLOW_GAIN.replace("0.05", "0.2")  # time to catch a worker in the middle of an evaluation
# long enough for three workers to start up and evaluate even on a busy machine (at 0.2 s, one of them
# came too late on a loaded 2-core machine: the others had spent the budget)
SLOWEST_GAIN = SLOW_GAIN.replace("0.05", "0.5")
HEARTBEAT = {"FILTERFIT_HEARTBEAT_S": "1"}  # a killed worker's trial fails after 3 s


def _postgres_programs() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or [shutil.which("pg_ctl") or ""]
    return Path(found[-1]).parent if found[-1] else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 for this module; yields its SQLAlchemy URL."""
    pytest.importorskip("psycopg2", reason="needs psycopg2: pip install 'filterfit[postgres]'")
    programs = _postgres_programs()
    if programs is None:
        pytest.skip("needs PostgreSQL's initdb and pg_ctl: apt-get install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="filterfit-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = next((name for name in ("postgres", "nobody") if _has_user(name)), None)
        if user is None:
            pytest.skip("initdb refuses root and there is no postgres or nobody user to run it as")
        folder.chmod(0o755)
        shutil.chown(folder, user)
        as_user = ["runuser", "-u", user, "--"]
    data, port = folder / "data", _free_port()
    run = [*as_user, str(programs / "initdb"), "-D", str(data), "-A", "trust", "-U", "filterfit", "--no-sync"]
    subprocess.run(run, check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
    start = [*as_user, str(programs / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w"]
    subprocess.run([*start, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg2://filterfit@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*start[:4], "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def fit_args(gain_images, *extra: str, command: str = SLOW_GAIN) -> list[str]:
    source, target = gain_images
    args = ["fit", str(source), str(target), "--command", command, "--param", "gain=0.5:2", "--strategy", "qmc"]
    return [*FILTERFIT, *args, "--seed", "3", "--workers", "1", "--quiet", *extra]


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    """A failing test must not leave its processes evaluating in the next one's server."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
        process.communicate()


def start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, **HEARTBEAT}
    STARTED.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    return STARTED[-1]


def finish(process: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def worker(url: str, name: str, *extra: str) -> subprocess.Popen:
    return start([*FILTERFIT, "worker", "--storage", url, "--study", name, "--workers", "1", "--quiet", *extra])


def load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def wait_until(condition, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def has_trials(url: str, name: str, count: int = 1) -> bool:
    try:
        return len(load(url, name).get_trials(deepcopy=False)) >= count
    except KeyError:  # not created yet
        return False


def single_machine_answer(gain_images, budget: int) -> dict:
    """The same fit on one machine, in this process (the same renders, without the sleep)."""
    import filterfit

    gain = "convert {input} -evaluate multiply {gain} {output}"
    result = filterfit.fit(gain, ["gain=0.5:2"], *gain_images, strategy="qmc", seed=3, budget=budget, workers=2)
    return {"best_params": result.best_params, "best_error": result.best_error}


def test_three_workers_and_the_starting_fit_spend_the_budget_together(postgres, gain_images, tmp_path):
    budget = 60
    # the slower filter keeps the starter from spending the budget alone while the workers start
    options = ["--budget", str(budget), "--storage", postgres, "--study", "shared"]
    args = fit_args(gain_images, *options, command=SLOWEST_GAIN)
    starter = start(args)
    wait_until(lambda: has_trials(postgres, "shared"))
    workers = [worker(postgres, "shared") for _ in range(3)]
    for code, _, stderr in [finish(p) for p in [starter, *workers]]:
        assert code == 0, stderr
        assert "Traceback" not in stderr, stderr

    trials = load(postgres, "shared").get_trials(deepcopy=False)
    assert all(t.state == TrialState.COMPLETE for t in trials)  # none lost, none left running
    assert budget <= len(trials) <= budget + 3  # the processes' last asks may race
    assert len({t.user_attrs["owner"] for t in trials}) == 4  # every process evaluated
    status = subprocess.run(
        [*FILTERFIT, "status", "--storage", postgres, "--study", "shared", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    shared = json.loads(status.stdout)
    single = single_machine_answer(gain_images, budget)
    # one Sobol sequence shared through the study: the same points, so the same answer (within the grid's spacing)
    assert abs(shared["best_params"]["gain"] - single["best_params"]["gain"]) < 0.03
    assert abs(shared["best_error"] - single["best_error"]) < 2e-3
    assert shared["evaluations"] == len(trials)


def _other_host() -> list[str]:
    """A prefix that runs a command as if on another machine (its own host name), or skips."""
    prefix = ["unshare", "--uts", "sh", "-c", 'hostname other-machine && exec "$@"', "sh"]
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot give a process another host name here (unshare --uts needs root)")
    return prefix


@pytest.mark.parametrize("where", ["this host", "another host"])
def test_a_killed_worker_leaves_the_study_usable(where, postgres, gain_images, tmp_path):
    """Killed here, a worker's trial is evaluated again by a live process of this host (its process is
    gone); killed on another machine, the heartbeat fails it after the grace period and it does not count."""
    budget, name = 30, where.replace(" ", "-")
    prefix = _other_host() if where == "another host" else []
    args = fit_args(gain_images, "--budget", str(budget), "--storage", postgres, "--study", name, command=SLOWER_GAIN)
    starter = start(args)
    wait_until(lambda: has_trials(postgres, name))
    victim = start([*prefix, *FILTERFIT, "worker", "--storage", postgres, "--study", name, "--workers", "1", "-q"])
    caught: list[int] = []

    def running() -> list[int]:
        trials = load(postgres, name).get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        return [t.number for t in trials if f":{victim.pid}:" in str(t.user_attrs.get("owner"))]

    def victim_is_evaluating() -> bool:
        if not running():
            return False
        victim.send_signal(signal.SIGSTOP)  # frozen while we look again: what is RUNNING now stays running
        caught[:] = running()
        if not caught:
            victim.send_signal(signal.SIGCONT)
        return bool(caught)

    wait_until(victim_is_evaluating)
    victim.send_signal(signal.SIGKILL)
    finish(victim)
    other = worker(postgres, name)
    for code, _, stderr in [finish(starter), finish(other)]:
        assert code == 0, stderr
    if where == "another host":
        time.sleep(3.5)  # past the grace period of the victim's last heartbeat
        code, _, stderr = finish(worker(postgres, name))  # a late worker fails the stale trial, fills the budget
        assert code == 0, stderr

    trials = load(postgres, name).get_trials(deepcopy=False)
    lost = trials[caught[0]]
    if where == "this host":
        assert lost.state == TrialState.COMPLETE and f":{victim.pid}:" not in lost.user_attrs["owner"]
    else:
        assert lost.state == TrialState.FAIL and "reason" not in lost.user_attrs  # abandoned, not an evaluation
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert [t for t in trials if t.state not in (TrialState.COMPLETE, TrialState.FAIL)] == []
    assert budget <= len(complete) <= budget + 2


def test_a_worker_with_other_images_refuses_to_start(postgres, gain_images, tmp_path):
    code, _, stderr = finish(start(fit_args(gain_images, "--budget", "2", "--storage", postgres, "--study", "hashes")))
    assert code == 0, stderr
    copies = tmp_path / "copies"
    copies.mkdir()
    shutil.copy(gain_images[0], copies / gain_images[0].name)
    other = np.clip(np.random.default_rng(5).uniform(0, 1, (16, 24, 3)), 0, 1).astype(np.float32)
    save_image(other, copies / gain_images[1].name)
    code, _, stderr = finish(worker(postgres, "hashes", "--images", str(copies)))
    assert code == 2
    assert f"image {copies / gain_images[1].name} differs from the study's {gain_images[1].name} (SHA-256" in stderr
    assert "every worker needs byte-identical copies of the images" in stderr
    assert len(load(postgres, "hashes").trials) == 2  # it evaluated nothing
