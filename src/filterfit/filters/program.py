"""Running an external program for one evaluation: an argv list, its own session, a timeout, files in RAM.

No shell ever runs: the program gets the argv list :class:`~.command.CommandFilter`
built. It starts in a session of its own, so that a timeout or Ctrl-C kills its
children too, and a failure's reason is its exit code or signal with the end of
its stderr. Programs that do not take pipes get files in a RAM-backed temporary
folder (``/dev/shm`` where it exists), and temporary files of their own go
there too: nothing is written to the working disk.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.util import Finalize
from pathlib import Path

from ..errors import EvaluationError
from ..images import Image

__all__ = [
    "claim_private_folders", "input_file", "kill_running_programs", "program_environment", "release_private_folders",
    "run_program", "scratch_folder", "track_running",
]  # fmt: skip


def run_program(
    argv: list[str], stdin: bytes | None, *, timeout: float, single_thread: bool, private_config: bool = False
) -> bytes:
    """Run ``argv`` and return its stdout; a failure to start, a timeout or a failure exit is an EvaluationError."""
    with _private_folders(private_config) as folders:
        env = program_environment(single_thread=single_thread, folders=folders)
        process, stdout, stderr = _communicate(argv, stdin, env, timeout)
    if process.returncode < 0:
        raise EvaluationError(f"killed by signal {_signal_name(-process.returncode)}: {_excerpt(stderr)}")
    if process.returncode != 0:
        raise EvaluationError(f"exit code {process.returncode}: {_excerpt(stderr)}")
    return stdout


def _communicate(
    argv: list[str], stdin: bytes | None, env: dict[str, str], timeout: float
) -> tuple[subprocess.Popen[bytes], bytes, bytes]:
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # so a timeout kills the program's children too
        )
    except FileNotFoundError:
        raise EvaluationError(f"command '{argv[0]}' not found") from None
    except OSError as error:
        raise EvaluationError(f"cannot start '{argv[0]}': {error.strerror}") from None
    except ValueError as error:  # a NUL byte or an unencodable character in an argument
        raise EvaluationError(f"cannot start '{argv[0]}': {error} in an argument") from None
    with _RUNNING_LOCK:
        _RUNNING.add(process)
    try:
        stdout, stderr = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise EvaluationError(f"timed out after {timeout:g} s (raise --timeout if it needs longer)") from None
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(process)
    return process, stdout, stderr


# Private configuration folders in use by a running program: each program running at once gets its own
# (darktable locks its folder for itself), and a folder freed is reused, caches and all, by the next.
_FOLDERS_IN_USE: set[int] = set()
_FOLDERS_LOCK = threading.Lock()


@contextmanager
def _private_folders(wanted: bool) -> Iterator[dict[str, str]]:
    """``XDG_CONFIG_HOME`` and ``XDG_CACHE_HOME`` in the RAM scratch, no other running program's (when wanted)."""
    if not wanted:
        yield {}
        return
    slot, folders = claim_private_folders()
    try:
        yield folders
    finally:
        release_private_folders(slot)


def claim_private_folders() -> tuple[int, dict[str, str]]:
    """A free slot of private configuration folders and the environment that points a program into them.

    A program that stays running (GIMP's Script-Fu, :mod:`filterfit.editors.script_fu`) holds its slot
    until it ends, then gives it back with :func:`release_private_folders`.
    """
    with _FOLDERS_LOCK:
        slot = next(number for number in itertools.count() if number not in _FOLDERS_IN_USE)
        _FOLDERS_IN_USE.add(slot)
    scratch = scratch_folder()
    return slot, {"XDG_CONFIG_HOME": f"{scratch}/config-{slot}", "XDG_CACHE_HOME": f"{scratch}/cache-{slot}"}


def release_private_folders(slot: int) -> None:
    with _FOLDERS_LOCK:
        _FOLDERS_IN_USE.discard(slot)


def program_environment(*, single_thread: bool, folders: dict[str, str]) -> dict[str, str]:
    """The environment a program runs in: temporary files in RAM, one thread when asked, and private ``folders``
    (a photo editor's options and caches, rewritten on each start: in RAM, apart from the user's)."""
    env = dict(os.environ)
    # ImageMagick spools piped images to temporary files; keep those (and any other program's) in RAM.
    scratch = str(scratch_folder())
    for name in ("MAGICK_TEMPORARY_PATH", "MAGICK_TMPDIR", "TMPDIR"):
        env.setdefault(name, scratch)
    if single_thread:
        env.update(MAGICK_THREAD_LIMIT="1", OMP_NUM_THREADS="1", OMP_THREAD_LIMIT="1")
    env.update(folders)
    return env


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


# Programs running in this process's threads (one worker evaluates in a thread), so that Ctrl-C can stop them.
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


def track_running(process: subprocess.Popen[bytes], running: bool = True) -> None:
    """Count ``process`` among the running programs that Ctrl-C kills (a program that stays running between
    evaluations, :mod:`filterfit.editors.script_fu`), or no longer."""
    with _RUNNING_LOCK:
        if running:
            _RUNNING.add(process)
        else:
            _RUNNING.discard(process)


def kill_running_programs() -> None:
    """Kill every program this process is running, children included: Ctrl-C must not wait for them."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


def _excerpt(stderr: bytes, limit: int = 300) -> str:
    text = " ".join(stderr.decode("utf-8", "replace").split())
    if not text:
        return "(no message on stderr)"
    return text if len(text) <= limit else "..." + text[-limit:]


# Per-process caches: a worker writes each source once and reuses it. Weak keys, not
# id(image): a freed image's id is reused by the next one, which then got stale pixels.
_INPUT_FILES: weakref.WeakKeyDictionary[Image, Path] = weakref.WeakKeyDictionary()
_TIFF_FILES: weakref.WeakKeyDictionary[Image, Path] = weakref.WeakKeyDictionary()  # for programs that need TIFF
_SCRATCH: list[Path] = []
_INPUT_NUMBERS = itertools.count()


def input_file(image: Image, folder: Path, reads: Sequence[str] = ()) -> Path:
    """The source as a file in ``folder`` for a program that takes file names: written once per image.

    ``reads``: the formats the program opens (empty: any); another is written as TIFF (its own bit depth).
    """
    readable = not reads or image.format in reads
    cache = _INPUT_FILES if readable else _TIFF_FILES
    if image not in cache:
        name = f"in-{next(_INPUT_NUMBERS)}"  # not id(image): a freed image's id is reused while its file may remain
        if not readable:
            from ..images import save_image

            path = save_image(image.pixels, folder / f"{name}.tif", bit_depth=image.bit_depth)
        elif image.path is not None:
            path = folder / f"{name}{_plain_suffix(image)}"
            shutil.copyfile(image.path, path)  # the program reads the very file the user gave
        else:
            from ..images import save_image

            path = save_image(image.pixels, folder / f"{name}.png", bit_depth=image.bit_depth)
        cache[image] = path
        weakref.finalize(image, path.unlink, True)  # gone with its image: apply's batches would fill /dev/shm
    return cache[image]


def _plain_suffix(image: Image) -> str:
    """The user's file suffix when it is a plain one (.png, .jpg), else one for its format.

    ImageMagick reads ``photo.png[0]`` or ``photo.png[10x10]`` as a frame or size selector.
    """
    assert image.path is not None
    suffix = image.path.suffix.lower()
    if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
        return suffix
    return {"jpeg": ".jpg", "tiff": ".tif", "pnm": ".pnm"}.get(image.format, f".{image.format}")


def scratch_folder() -> Path:
    """A private temporary folder on a RAM-backed file system where there is one."""
    if not _SCRATCH or _SCRATCH[0].name.split("-")[-1] != str(os.getpid()):
        ram = Path("/dev/shm")
        base = str(ram) if ram.is_dir() and os.access(ram, os.W_OK) else None
        folder = Path(tempfile.mkdtemp(prefix="filterfit-", suffix=f"-{os.getpid()}", dir=base))
        _SCRATCH[:] = [folder]
        _INPUT_FILES.clear()
        _TIFF_FILES.clear()
        # Removed at exit by multiprocessing's finalizers, which run in the main process (at its atexit) and
        # in the evaluator's worker processes too: they end with os._exit, which skips atexit handlers, and
        # left a folder each behind in /dev/shm (1,847 after a day's tests and benchmarks).
        Finalize(None, shutil.rmtree, args=(folder, True), exitpriority=0)
    return _SCRATCH[0]
