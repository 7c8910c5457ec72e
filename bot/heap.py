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
        return libc
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): nothing to trim
        return None


def trim() -> bool:
    """Return the free pages of every malloc arena to the system; whether any were."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


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
    was anything) and the freed pages go back to the system."""

    def __init__(self, seconds: float, release: Callable[[], bool]) -> None:
        self.seconds = seconds
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
        return True
