"""The study's journal file in an output folder: locked with ``flock``, and synced to disk once a second.

Optuna's JournalStorage appends one JSON record per change of a trial (created,
each user attribute, told): seven or eight an evaluation. Its file backend
fsyncs after every record, so a 500-evaluation look fit made some 4,000 fsyncs,
each of which the kernel counts as a whole 4 KiB page written: 30 KB an
evaluation reached the disk (as much as the memo's JPEG files), and the fit
took 1.6 times as long as without ``--out``. :class:`JournalFile` writes the
same records and fsyncs at most once every :data:`SYNC_EVERY_S`, and keeps its
files open (JournalStorage reads the journal around each of its changes). A killed
process loses nothing either way (written records are in the page cache, which
outlives the process); a power cut may lose the last second's records, which a
resumed run then evaluates again.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from collections.abc import Callable, Generator
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


def _in_forked_children(method: Callable[[], None]) -> None:
    """Call ``method`` in each forked child while its object lives (a weak reference: the object may go)."""
    reference = weakref.WeakMethod(method)

    def call() -> None:
        alive = reference()
        if alive is not None:
            alive()

    os.register_at_fork(after_in_child=call)


class FlockLock:
    """A journal lock that the kernel releases when its process dies.

    Optuna's default lock is a symlink that a SIGKILLed writer leaves behind,
    and the next process waits out its 30 s grace period; an ``flock`` on a
    lock file is gone with the process that held it.
    """

    def __init__(self, path: Path) -> None:
        self.path = str(path) + ".flock"
        self._threads = threading.Lock()  # flock is per open file: threads of one process need their own lock
        self._fd: int | None = None  # open for the lock's life: a journal takes it five times an evaluation
        _in_forked_children(self._forget)

    def acquire(self) -> bool:
        self._threads.acquire()
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def __del__(self) -> None:
        self._forget()

    def _forget(self) -> None:
        """Close the lock file: in a forked child (so a parent killed holding it does not keep it), or at the end."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._threads = threading.Lock()


class JournalFile(BaseJournalBackend):
    """Optuna's journal file format, appended under a :class:`FlockLock` and fsynced at most once a second.

    Reading keeps the file open and the records read in memory: JournalStorage
    reads the journal before and after each of its changes, 17 times an
    evaluation of a look, and Optuna's file backend opened the file and parsed
    from its last offset each time. Only whole lines are taken, so a record
    another process is still writing is read when it is complete; reading takes
    no lock, as Optuna's does not.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.touch()  # a new study's journal: empty until its first record
        self._lock = FlockLock(self.path)
        self._synced = 0.0
        self._logs: list[dict[str, Any]] = []
        self._offset = 0  # bytes of the file read into _logs
        self._reading = threading.Lock()
        self._reading_fd: int | None = None  # both open for the storage's life: used thousands of times
        self._appending: int | None = None
        _in_forked_children(self.close)

    def close(self) -> None:
        """Close the journal's files (a forked child's copies, or when the storage is dropped)."""
        for fd in (self._reading_fd, self._appending):
            if fd is not None:
                os.close(fd)
        self._reading_fd = self._appending = None

    def __del__(self) -> None:
        self.close()

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        with self._reading:
            self._catch_up()
            logs = self._logs[log_number_from:]
        yield from logs

    def _catch_up(self) -> None:
        if self._reading_fd is None:
            self._reading_fd = os.open(self.path, os.O_RDONLY)
        size = os.fstat(self._reading_fd).st_size
        if size <= self._offset:
            return
        chunk = os.pread(self._reading_fd, size - self._offset, self._offset)
        lines = chunk[: chunk.rfind(b"\n") + 1].splitlines(keepends=True)
        for number, line in enumerate(lines):
            try:
                self._logs.append(json.loads(line))
            except json.JSONDecodeError as error:
                if number == len(lines) - 1:
                    return  # the last line, as Optuna's reader does: not a record (yet); read it again next time
                raise ValueError(f"{self.path} is not a journal Optuna wrote: {error}") from None
            self._offset += len(line)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)  # one line a record
        self._lock.acquire()
        try:
            if self._appending is None:
                self._appending = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(self._appending, text.encode("utf-8"))  # one write a call, at the end under the lock
            if time.monotonic() - self._synced >= SYNC_EVERY_S:
                os.fsync(self._appending)
                self._synced = time.monotonic()
        finally:
            self._lock.release()
