"""The study's storage: an Optuna URL, a journal file or a folder holding one; and the study in it.

``--out DIR`` keeps the study in ``DIR/study.journal`` (:mod:`filterfit.journal`);
``--storage URL`` in any Optuna storage (PostgreSQL for several machines),
with a heartbeat for RDB storages. A storage that does not open is one line:
a missing database driver names the pip command that installs it, and a
URL's password is masked wherever a message shows the URL.
"""

from __future__ import annotations

import importlib
import os
import re
import secrets
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

from .errors import FilterFitError
from .journal import journal_storage

__all__ = ["HEARTBEAT_S", "JOURNAL", "open_storage", "open_study"]

JOURNAL = "study.journal"
HEARTBEAT_S = 20.0  # RDB storages: seconds between heartbeats of a running trial; stale after 3 missed


def open_storage(url: str | Path | None) -> Any:
    """An Optuna storage for a URL, a journal file or a folder holding one; None stays in memory.

    RDB URLs (``postgresql://``, ``sqlite:///``, ``mysql://``) get a heartbeat
    every ``FILTERFIT_HEARTBEAT_S`` seconds (default 20), so that a killed
    worker's running trial fails after three missed beats. A bare
    ``postgresql://`` uses whichever of psycopg 3 and psycopg2 imports.
    """
    if url is None:
        return None
    heartbeat = float(os.environ.get("FILTERFIT_HEARTBEAT_S", HEARTBEAT_S))
    text = str(url)
    try:
        if "://" in text:
            with warnings.catch_warnings():  # the heartbeat has been "experimental" since Optuna 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    _with_driver(text),
                    heartbeat_interval=max(1, round(heartbeat)),
                    grace_period=max(3, round(3 * heartbeat)),
                )
        path = Path(text) / JOURNAL if Path(text).is_dir() else Path(text)
        if not path.is_file():
            raise FilterFitError(
                f"no study storage at {text}: give a postgresql:// or sqlite:/// URL, "
                f"a {JOURNAL} file or a --out folder that holds one"
            )
        return journal_storage(path)
    except FilterFitError:
        raise
    except ImportError as error:  # Optuna's "Failed to import DB access module" says neither which nor how
        raise FilterFitError(f"cannot open the study storage {_masked(text)!r}: {_no_driver(text, error)}") from None
    except Exception as error:  # ValueError and SQLAlchemy's errors for a bad URL or database
        raise FilterFitError(f"cannot open the study storage {_masked(text)!r}: {_first_line(error)}") from None


def _with_driver(url: str) -> str:
    """A bare ``postgresql://`` (or libpq's ``postgres://``) with a driver that imports here; other URLs as given.

    SQLAlchemy picks a bare URL's driver by its own version (2.0: psycopg2, 2.1:
    psycopg 3), not by what is installed, and has no ``postgres://`` at all.
    """
    scheme, _, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return url
    for driver in ("psycopg", "psycopg2"):
        try:
            importlib.import_module(driver)  # an import, not find_spec: psycopg 3 without its libpq fails here
        except ImportError:
            continue
        return f"postgresql+{driver}://{rest}"
    return f"postgresql+psycopg://{rest}"  # neither: SQLAlchemy's ImportError gets the extra's message


# how to install the driver a storage URL's scheme asks for; keys are the user's spelling (before _with_driver)
_DRIVERS = {
    "postgresql": ("PostgreSQL", "pip install 'filterfit[postgres]'"),
    "postgres": ("PostgreSQL", "pip install 'filterfit[postgres]'"),
    "postgresql+psycopg": ("PostgreSQL", "pip install 'filterfit[postgres]'"),
    "postgresql+psycopg2": ("PostgreSQL", "pip install psycopg2-binary"),
    "mysql": ("MySQL", "pip install mysqlclient, or pip install PyMySQL and write mysql+pymysql://"),
    "mysql+mysqldb": ("MySQL", "pip install mysqlclient"),
    "mysql+pymysql": ("MySQL", "pip install PyMySQL"),
}


def _no_driver(url: str, error: ImportError) -> str:
    scheme = url.partition("://")[0]
    if scheme in _DRIVERS:
        database, fix = _DRIVERS[scheme]
        return f"the {database} driver is not installed: {fix}"
    cause = error.__cause__ if isinstance(error.__cause__, ImportError) else error  # Optuna's wraps SQLAlchemy's
    return f"its database driver is not installed ({_first_line(cause)})"


def _masked(url: str) -> str:
    """The URL without its password (``user:***@host``): error messages end up in logs and CI output."""
    return re.sub(r"^([\w+]+://[^:/]*):[^@]*@", r"\1:***@", url)  # user and password as SQLAlchemy parses them


def open_study(storage: Any, name: str | None, sampler: optuna.samplers.BaseSampler, *, create: bool) -> optuna.Study:
    """Create or load a study; without a name, the storage's only study (or a new, dated name)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the CLI shows its own progress
    try:
        names = optuna.get_all_study_names(storage) if storage is not None else []
        if name is None and len(names) > 1:
            raise FilterFitError(f"the storage holds several studies ({', '.join(names)}): choose one with --study")
        if name is None and not names and not create:
            raise FilterFitError(
                "the storage holds no study: start one with filterfit fit ... --out DIR (or --storage URL)"
            )
        name = name or (names[0] if names else f"filterfit-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}")
        if not create and name not in names:
            known = ", ".join(names) or "none"
            raise FilterFitError(f"no study named {name!r} in the storage (studies there: {known})")
        return optuna.create_study(
            storage=storage, study_name=name, direction="minimize", sampler=sampler, load_if_exists=True
        )
    except FilterFitError:
        raise
    except Exception as error:
        raise FilterFitError(f"cannot open the study storage {storage!r}: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__  # SQLAlchemy adds a second line
