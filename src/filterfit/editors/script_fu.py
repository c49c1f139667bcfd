"""GIMP kept running: one ``gimp-console`` per worker, fed a Script-Fu expression per evaluation.

GIMP takes seconds to start (3.3 s for a render here) and a fraction of one to apply a few colour
tools, so starting it for each evaluation (as ``filterfit apply`` does, through
the command line) would spend most of a fit on start-ups. Instead each worker
thread borrows a GIMP that reads Script-Fu from its stdin (``gimp-console -b -``,
the batch interpreter's read-eval-print loop) and keeps it for the next
evaluation: the start-up is paid once per worker.

An evaluation sends the look's script (which defines ``filterfit-look``), then a
call that renders a copy of the source into the RAM scratch, then a ``display``
of a token of its own: everything the loop prints before the token is the
answer, and a line starting ``Error:`` is the evaluation's failure. GIMP's file
loaders and PNG writer are plug-ins, a process started for each file: the
source is loaded once per GIMP and duplicated for each evaluation, and the
render is saved as XCF, which GIMP writes itself (:mod:`.xcf` reads it).

A GIMP that does not answer within the timeout is killed with its process
group, as a command's program is; one that dies is replaced by the next
evaluation. A pipe, not Script-Fu's TCP server: no other user of the machine can
send it scripts.
"""

from __future__ import annotations

import collections
import itertools
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from multiprocessing.util import Finalize
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EvaluationError, TemplateError
from ..filters.command import CommandFilter
from ..filters.program import (
    claim_private_folders,
    input_file,
    program_environment,
    release_private_folders,
    scratch_folder,
    track_running,
)
from .xcf import read_xcf

if TYPE_CHECKING:
    from ..filters.settings_file import SettingsFile
    from ..images import Image
    from ..space import Space

__all__ = ["ScriptFuFilter", "stop_all"]

# Defined once in each GIMP: the source images it has loaded (path -> image), and the render of a copy.
HELPERS = """
(define filterfit-sources '())
(define (filterfit-source path)
  (let ((known (assoc path filterfit-sources)))
    (if known
        (cdr known)
        (let ((image (car (gimp-file-load RUN-NONINTERACTIVE path path))))
          (set! filterfit-sources (cons (cons path image) filterfit-sources))
          image))))
(define (filterfit-render source output bits)
  (let* ((image (car (gimp-image-duplicate source)))
         (drawable (car (gimp-image-get-active-drawable image))))
    (gimp-image-undo-disable image)
    (filterfit-set-precision image bits)
    (filterfit-look drawable)
    (gimp-xcf-save 0 image drawable output output)
    (gimp-image-delete image)))
"""
START_TIMEOUT = 120.0  # a first start writes GIMP's configuration into a new folder


@dataclass(frozen=True)
class ScriptFuFilter:
    """Render each evaluation in a GIMP kept running (see the module's docstring).

    ``command`` is the editor's command line (:class:`CommandFilter`) prepared
    for the images: its settings file is the look's script, its timeout and
    thread limit are the evaluation's. The same script rendered by that command
    gives the same pixels; this only skips GIMP's start-up.
    """

    command: CommandFilter
    bit_depth: int = 8

    @property
    def files(self) -> tuple[SettingsFile, ...]:
        """The look's script, which ``--out`` writes with the best values (``look.scm``)."""
        return self.command.files

    @property
    def exports(self) -> tuple[SettingsFile, ...]:
        return self.command.exports

    def check(self, space: Space) -> None:
        self.command.check(space)

    def prepare(self, sources: Sequence[Image], target: Image, *, single_thread: bool) -> ScriptFuFilter:
        return replace(self, command=self.command.prepare(sources, target, single_thread=single_thread))

    def describe(self) -> str:
        return self.command.describe()

    def render(self, image: Image, params: Mapping[str, Any]) -> np.ndarray:
        try:
            script = self.command.files[0].render(params)
        except TemplateError as error:
            raise EvaluationError(str(error)) from None
        folder = scratch_folder()
        output = folder / f"out-{os.getpid()}-{threading.get_ident()}.xcf"
        output.unlink(missing_ok=True)
        source = input_file(image, folder, self.command.reads)
        call = f"(filterfit-render (filterfit-source {_string(source)}) {_string(output)} {self.bit_depth})"
        gimp = _borrow(self.command.single_thread)
        try:
            gimp.ask(f"{script}\n{call}", self.command.timeout)  # a GIMP that timed out or died has stopped
        finally:
            _give_back(gimp)
        try:
            data = output.read_bytes()
        except FileNotFoundError:
            raise EvaluationError("GIMP answered but wrote no output file") from None
        finally:
            output.unlink(missing_ok=True)
        return read_xcf(data)


class Gimp:
    """One ``gimp-console`` reading Script-Fu from its stdin; ``ask`` sends an expression and waits for it."""

    def __init__(self, single_thread: bool) -> None:
        self.single_thread = single_thread
        self.slot, folders = claim_private_folders()
        argv = ["gimp-console", "--no-interface", "--no-data", "--no-fonts", "--new-instance"]
        if single_thread:
            argv += ["--gimprc", str(_one_thread_gimprc())]
        argv += ["--batch-interpreter", "plug-in-script-fu-eval", "--batch", "-"]
        env = program_environment(single_thread=single_thread, folders=folders)
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # so that a timeout kills GIMP's plug-ins too
            )
        except OSError as error:
            release_private_folders(self.slot)
            raise EvaluationError(f"cannot start 'gimp-console': {error.strerror}") from None
        track_running(self.process)
        self.stderr: collections.deque[bytes] = collections.deque(maxlen=64)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        self.ask(HELPERS, START_TIMEOUT)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, expression: str, timeout: float) -> str:
        """Evaluate ``expression``; what the interpreter printed, or an EvaluationError with its message."""
        token = f"filterfit-done-{next(_TOKENS)}"
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(f'{expression}\n(display "{token}")\n'.encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise EvaluationError(f"GIMP has ended: {self._last_words()}") from None
        answer = self._read_until(token.encode(), timeout)
        for line in answer.splitlines():
            line = line.removeprefix("ts> ").strip()
            if line.startswith("Error:"):  # GIMP refused (a value, a file): it goes on to the next
                raise EvaluationError(f"GIMP: {' '.join(line.split()[1:])}")
        return answer

    def _read_until(self, token: bytes, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        received = bytearray()
        assert self.process.stdout is not None
        while token not in received:
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                self.stop()
                raise EvaluationError(f"timed out after {timeout:g} s (raise --timeout if it needs longer)")
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                self.stop()
                raise EvaluationError(f"GIMP has ended: {self._last_words()}")
            received += chunk
        return received.decode("utf-8", "replace")

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def _last_words(self) -> str:
        if self.process.poll() is None:
            self.process.wait(5)
        code = self.process.returncode
        how = f"killed by signal {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        text = " ".join(b"".join(self.stderr).decode("utf-8", "replace").split())[-300:]
        return f"{how}: {text or '(no message on stderr)'}"

    def stop(self) -> None:
        """End this GIMP and its plug-ins now and give its configuration folder back."""
        if self.slot < 0:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        track_running(self.process, running=False)
        self.selector.close()
        release_private_folders(self.slot)
        self.slot = -1


# What this process's GIMPs are doing: idle ones wait here, per thread limit, for the next evaluation.
_IDLE: dict[bool, list[Gimp]] = {True: [], False: []}
_ALL: list[Gimp] = []
_LOCK = threading.Lock()
_TOKENS = itertools.count()
_OWNER = [os.getpid()]


def _borrow(single_thread: bool) -> Gimp:
    with _LOCK:
        _forget_inherited()
        while _IDLE[single_thread]:
            gimp = _IDLE[single_thread].pop()
            if gimp.alive:
                return gimp
    gimp = Gimp(single_thread)
    with _LOCK:
        if not _ALL:
            Finalize(None, stop_all, exitpriority=10)  # before the scratch folder goes (priority 0)
        _ALL.append(gimp)
    return gimp


def _give_back(gimp: Gimp) -> None:
    with _LOCK:
        if gimp.slot >= 0:  # not stopped (a timeout, GIMP's end)
            _IDLE[gimp.single_thread].append(gimp)


def stop_all() -> None:
    """End every GIMP this process started (at exit)."""
    with _LOCK:
        _forget_inherited()
        running, _ALL[:] = list(_ALL), []
        _IDLE[True].clear()
        _IDLE[False].clear()
    for gimp in running:
        gimp.stop()


def _forget_inherited() -> None:
    """In a forked worker process, the parent's GIMPs are the parent's: neither used nor stopped here."""
    if _OWNER[0] != os.getpid():
        _IDLE[True].clear()
        _IDLE[False].clear()
        _ALL.clear()
        _OWNER[0] = os.getpid()


def _string(path: Path | str) -> str:
    """A Scheme string literal for one of filterfit's own scratch paths."""
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _one_thread_gimprc() -> Path:
    path = scratch_folder() / "gimprc-one-thread"
    if not path.exists():
        path.write_text("(num-processors 1)\n")
    return path
