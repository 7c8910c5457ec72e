"""The heap of `veilleur serve`'s processes: freed pages given back, pages kept shared.

glibc keeps freed memory for reuse unless asked: after a burst (language models unloaded, the
start-up's temporary objects), the pages stay resident until `malloc_trim` returns them (a
no-op without glibc). The worker is forked from the web process and shares its pages until
either writes to them; the collector writes to the header of every object it walks, so what
lives at the fork is frozen first (`gc.freeze()`: never walked again), and the child freezes
its own start-up heap once ready (bench/memory.py, README).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        if hasattr(libc, "madvise"):
            libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        return libc
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): nothing to trim
        return None


def trim() -> bool:
    """Return the free pages of every malloc arena to the system; whether any were."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


# madvise(2)'s advice to reclaim pages now (Linux 5.4+): clean file pages leave the process at
# once (read from the file again if touched); others are kept or swapped, never lost.
MADV_PAGEOUT = 21


def page_out(file_part: str) -> int:
    """Give back the resident pages of the files this process maps whose path contains
    `file_part`: a library read in full while in use (lingua's models ship inside its library
    file, ~4 MB of it stays resident after the models are dropped; ~19 MB with lingua 2.2).
    The bytes advised; 0 where madvise or the advice is missing."""
    libc = _libc()
    if libc is None or not hasattr(libc, "madvise"):
        return 0
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            spans = [line.split(maxsplit=5) for line in maps]
    except OSError:  # not Linux
        return 0
    advised = 0
    for fields in spans:
        if len(fields) < 6 or file_part not in fields[5]:
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if libc.madvise(start, end - start, MADV_PAGEOUT) == 0:
            advised += end - start
    return advised


def before_fork() -> None:
    """Right before forking a child that shares this process's pages."""
    gc.freeze()
    trim()


def after_start() -> None:
    """In a process once started: its start-up objects frozen, free pages given back."""
    gc.collect()
    gc.freeze()
    trim()


def lean_command(argv: list[str]) -> list[str] | None:
    """The command line that runs this command again without docstrings nor assertions (`-OO`).

    A long-running server never reads its modules' docstrings, yet keeps them all (several MB a
    process; the forked worker and the writer process carry their own). None when already so,
    or when the environment chose (`PYTHONOPTIMIZE`, `0` to keep them: tracebacks and help
    are unchanged either way)."""
    if sys.flags.optimize >= 2 or "PYTHONOPTIMIZE" in os.environ:
        return None
    return [sys.executable, *interpreter_flags(), "-OO", "-m", "bot.cli", *argv]


def interpreter_flags() -> list[str]:
    """This interpreter's -O level, for a Python process it starts (the writer process)."""
    return ["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []


class IdleRelease:
    """Data loaded on demand (the language models) and dropped once unused for
    `seconds`: contributions come minutes or days apart, and reloading takes milliseconds.

    `use()` holds `lock` (a use and a release never overlap) and arms one timer; when it
    fires after the data went unused long enough, `release()` drops it (returns whether there
    was anything) and the freed pages go back to the system, with those of the mapped `files`
    the data was read from (`page_out`)."""

    def __init__(
        self, seconds: float, release: Callable[[], bool], files: tuple[str, ...] = ()
    ) -> None:
        self.seconds = seconds
        self.files = files
        self.lock = threading.RLock()
        self._release = release
        self._last_use = 0.0
        self._timer: threading.Timer | None = None

    @contextlib.contextmanager
    def use(self) -> Iterator[None]:
        with self.lock:
            yield
            self._last_use = time.monotonic()
            if self._timer is None:
                self._arm(self.seconds)

    def _arm(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._check)
        self._timer.daemon = True
        self._timer.start()

    def _check(self) -> None:
        with self.lock:
            self._timer = None
            left = self._last_use + self.seconds - time.monotonic()
            if left > 0:  # used since: look again when it may be idle
                self._arm(left)
                return
        self.release_if_idle(time.monotonic())

    def release_if_idle(self, now: float) -> bool:
        """Drop the data if unused for `seconds` before `now` (monotonic); whether it was."""
        with self.lock:
            if now - self._last_use < self.seconds or not self._release():
                return False
        trim()  # the pages go back to the system, not to malloc's free lists
        for file_part in self.files:
            page_out(file_part)
        return True
