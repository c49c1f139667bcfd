"""The study's journal file in an output folder: locked with ``flock``, and synced to disk once a second.

Optuna's JournalStorage appends one JSON record per change of a trial (created,
each user attribute, told): seven or eight an evaluation. Its file backend
fsyncs after every record, so a 500-evaluation look fit made some 4,000 fsyncs,
each of which the kernel counts as a whole 4 KiB page written: 30 KB an
evaluation reached the disk (as much as the memo's JPEG files), and the fit
took 1.6 times as long as without ``--out``. :class:`JournalFile` writes the
same records and fsyncs at most once every :data:`SYNC_EVERY_S`. A killed
process loses nothing either way (written records are in the page cache, which
outlives the process); a power cut may lose the last second's records, which a
resumed run then evaluates again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from optuna.storages.journal import BaseJournalBackend, JournalFileBackend, JournalStorage

try:
    import fcntl
except ImportError:  # Windows: Optuna's own lock and file backend
    fcntl = None  # type: ignore[assignment]

__all__ = ["SYNC_EVERY_S", "FlockLock", "JournalFile", "journal_storage"]

SYNC_EVERY_S = 1.0


def journal_storage(path: Path) -> Any:
    """Optuna's JournalStorage in a file: ``flock``-locked and synced once a second where ``flock`` exists."""
    if fcntl is None:
        return JournalStorage(JournalFileBackend(str(path)))
    return JournalStorage(JournalFile(path))


class FlockLock:
    """A journal lock that the kernel releases when its process dies.

    Optuna's default lock is a symlink that a SIGKILLed writer leaves behind,
    and the next process waits out its 30 s grace period; an ``flock`` on a
    lock file is gone with the process that held it.
    """

    def __init__(self, path: Path) -> None:
        self.path = str(path) + ".flock"
        self._threads = threading.Lock()  # flock is per open file: threads of one process need their own lock
        self._fd: int | None = None

    def acquire(self) -> bool:
        self._threads.acquire()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the flock
            self._fd = None
        self._threads.release()


class JournalFile(BaseJournalBackend):
    """Optuna's journal file format, appended under a :class:`FlockLock` and fsynced at most once a second.

    Reading is Optuna's own (``JournalFileBackend.read_logs``, which takes no lock).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = FlockLock(self.path)
        self._reader = JournalFileBackend(str(self.path), lock_obj=self._lock)  # type: ignore[arg-type]
        self._synced = 0.0

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        return self._reader.read_logs(log_number_from)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)  # one line a record
        self._lock.acquire()
        try:
            with open(self.path, "ab") as file:
                file.write(text.encode("utf-8"))
                if time.monotonic() - self._synced >= SYNC_EVERY_S:
                    file.flush()
                    os.fsync(file.fileno())
                    self._synced = time.monotonic()
        finally:
            self._lock.release()
