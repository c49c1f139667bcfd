"""Several ``filterfit worker`` processes sharing one study through a real PostgreSQL server.

The fixture starts a throw-away server on loopback with Debian's ``initdb``
and ``pg_ctl`` (installed by scripts/ensure-system.sh). They refuse to run as
root, so as root they run as the ``postgres`` user (or ``nobody``). It sets the
server up as the README does (a role ``filterfit`` with a password, a database
``filterfit`` it owns) and yields the README's URL, bare ``postgresql://``
included, so the README's commands run here word for word. The README's other
storage URL, ``sqlite:///``, is tested here too.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from filterfit.images import save_image
from filterfit.study import open_storage

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
    """A PostgreSQL server on 127.0.0.1 for this module; yields the README's URL for it.

    ``postgresql://filterfit:PASSWORD@127.0.0.1:PORT/filterfit``: the README's
    but for its ``dbhost`` (and a random password). Over TCP the server asks for
    the password; on its socket it trusts the ``postgres`` superuser, as Debian's
    ``sudo -u postgres`` does.
    """
    pytest.importorskip("psycopg", reason="needs psycopg 3: pip install 'filterfit[postgres]'")
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
    data, port, password = folder / "data", _free_port(), secrets.token_hex(8)
    # md5 also checks the SCRAM passwords that PostgreSQL 14 and later store
    auth = ["--auth-local", "trust", "--auth-host", "md5"]
    run = [*as_user, str(programs / "initdb"), "-D", str(data), *auth, "-U", "postgres", "--no-sync"]
    subprocess.run(run, check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
    start = [*as_user, str(programs / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w"]
    subprocess.run([*start, "start"], check=True, capture_output=True)
    try:
        as_postgres = ["-h", str(folder), "-p", str(port), "-U", "postgres"]
        for program, *args in [  # the README's lines for the database machine
            ["createuser", "filterfit"],
            ["createdb", "-O", "filterfit", "filterfit"],
            ["psql", "-q", "-c", f"ALTER USER filterfit PASSWORD '{password}'"],
        ]:
            subprocess.run([str(programs / program), *as_postgres, *args], check=True, capture_output=True)
        yield f"postgresql://filterfit:{password}@127.0.0.1:{port}/filterfit"
    finally:
        for storage in STORAGES.values():
            storage.engine.dispose()  # before the server goes: closed, not left to the garbage collector
        STORAGES.clear()
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


def start(args: list[str], cwd: Path | None = None, env: dict[str, str] = HEARTBEAT) -> subprocess.Popen:
    env = {**os.environ, **env}
    STARTED.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd))
    return STARTED[-1]


def finish(process: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def worker(url: str, name: str, *extra: str) -> subprocess.Popen:
    return start([*FILTERFIT, "worker", "--storage", url, "--study", name, "--workers", "1", "--quiet", *extra])


STORAGES: dict[str, Any] = {}  # one per URL: psycopg 3 warns of every connection left to the garbage collector


def load(url: str, name: str) -> optuna.Study:
    if url not in STORAGES:
        STORAGES[url] = open_storage(url)  # a bare postgresql:// as filterfit reads it
    return optuna.load_study(study_name=name, storage=STORAGES[url])


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


README_URL = "postgresql://filterfit:PASSWORD@dbhost/filterfit"
README_STATUS = [  # the keys of the status the README prints, in its order
    "study", "filter", "space", "metric", "strategy", "budget", "evaluations", "complete", "failed", "running",
    "abandoned", "processes", "best_error", "best_params",
]  # fmt: skip


def readme_commands(url: str, budget: int) -> list[list[str]]:
    """The commands of the README's "Several machines through PostgreSQL", on ``url`` and with a smaller budget."""
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    block = text.split("Several machines through PostgreSQL", 1)[1].split("```", 2)[1]
    commands = [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.startswith("filterfit ")]
    assert [command[1] for command in commands] == ["fit", "worker", "status"], commands
    assert all(README_URL in command for command in commands), commands
    assert commands[0][commands[0].index("--budget") + 1] == "200"
    given = {README_URL: url, "200": str(budget)}
    return [[*FILTERFIT, *(given.get(word, word) for word in command[1:])] for command in commands]


def held_convert(folder: Path, hold: Path) -> dict[str, str]:
    """A PATH whose ``convert`` waits while the file ``hold`` exists, then runs ImageMagick's."""
    folder.mkdir()
    script = folder / "convert"
    real = shlex.quote(shutil.which("convert") or "convert")
    script.write_text(f'#!/bin/sh\nwhile [ -e {shlex.quote(str(hold))} ]; do sleep 0.05; done\nexec {real} "$@"\n')
    script.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_the_readme_commands_run_as_printed(postgres, small_photo, tmp_path):
    """fit on the first machine, a worker on another (its copies in ./images), status: word for word.

    With the README's default heartbeat. The fit's ``convert`` holds its evaluations until the worker
    has a trial, so that the worker surely takes part, however fast this machine spends the budget.
    """
    spelled = re.fullmatch(r"postgresql://filterfit:(\w+)@127\.0\.0\.1:\d+/filterfit", postgres)
    assert spelled, postgres  # the README's URL but for dbhost (and the password)
    fit, join, status = readme_commands(postgres, budget=30)
    shutil.copy(small_photo, tmp_path / "photo.png")
    subprocess.run(["convert", "photo.png", "-blur", "3x1.5", "blurred.png"], cwd=tmp_path, check=True)
    other = tmp_path / "other-machine"
    (other / "images").mkdir(parents=True)
    for name in ("photo.png", "blurred.png"):
        shutil.copy(tmp_path / name, other / "images" / name)

    hold = tmp_path / "hold"
    starter = start(fit, cwd=tmp_path, env=held_convert(tmp_path / "bin", hold))
    wait_until(lambda: has_trials(postgres, "rose"))
    hold.touch()  # the fit's next evaluations wait (it holds no transaction open meanwhile, as a SIGSTOP could)
    joined = start(join, cwd=other, env={})
    mark = f":{joined.pid}:"
    wait_until(lambda: any(mark in str(t.user_attrs.get("owner")) for t in load(postgres, "rose").trials))
    hold.unlink()
    runs = [finish(starter), finish(joined)]
    shown = subprocess.run(status, capture_output=True, text=True, cwd=tmp_path)
    runs.append((shown.returncode, shown.stdout, shown.stderr))
    for code, stdout, stderr in runs:
        assert code == 0, stderr
        assert "Traceback" not in stderr and spelled[1] not in stdout + stderr, stderr  # nor the password

    fields = dict(line.split(":", 1) for line in shown.stdout.splitlines())
    fields = {key: value.strip() for key, value in fields.items()}
    assert list(fields) == README_STATUS
    assert fields["filter"] == "convert {input} -blur {radius}x{sigma} {output}"
    assert (fields["study"], fields["space"], fields["strategy"]) == ("rose", "radius=0:20 sigma=0.1:10", "tpe")
    evaluations = int(fields["evaluations"])
    assert 30 == int(fields["budget"]) <= evaluations <= 30 + 2  # both processes' last asks may race
    assert int(fields["complete"]) == evaluations
    assert (fields["failed"], fields["running"], fields["abandoned"], fields["processes"]) == ("0", "0", "0", "2")
    # which process evaluated what is up to the race, so the best is checked against the study, not a bound
    best = min(t.value for t in load(postgres, "rose").trials if t.value is not None)
    assert float(fields["best_error"]) == best and re.fullmatch(r"radius=\S+ sigma=\S+", fields["best_params"])


ONLY_PSYCOPG2 = (
    "import sys; sys.modules['psycopg'] = None; sys.argv[0] = 'filterfit'; from filterfit.cli import main; main()"
)


def test_a_bare_postgresql_url_works_with_psycopg2_alone(postgres, gain_images):
    """Where psycopg 3 is missing (or SQLAlchemy 2.0 picks psycopg2), the same URL reaches the same study."""
    pytest.importorskip("psycopg2", reason="needs psycopg2: pip install psycopg2-binary")
    args = fit_args(gain_images, "--budget", "3", "--storage", postgres, "--study", "psycopg2")
    code, _, stderr = finish(start([sys.executable, "-c", ONLY_PSYCOPG2, *args[len(FILTERFIT) :]]))
    assert code == 0, stderr  # psycopg 3 would not import: this ran on psycopg2
    status = [*FILTERFIT, "status", "--storage", postgres, "--study", "psycopg2", "--json"]
    shown = json.loads(subprocess.run(status, capture_output=True, text=True, check=True).stdout)  # on psycopg 3
    assert (shown["evaluations"], shown["complete"]) == (3, 3)


def test_a_sqlite_url_as_the_readme_writes_it(gain_images, tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    code, _, stderr = finish(start(fit_args(gain_images, "--budget", "4", "--storage", url, "--study", "local")))
    assert code == 0, stderr
    shown = subprocess.run([*FILTERFIT, "status", "--storage", url, "--study", "local"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "study:       local\n" in shown.stdout and "evaluations: 4\n" in shown.stdout, shown.stdout
