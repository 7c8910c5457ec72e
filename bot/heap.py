"""The heap of `veilleur serve`'s processes: freed pages given back, pages kept shared.

glibc keeps freed memory for reuse unless asked: after a burst (language models unloaded, the
start-up's temporary objects), the pages stay resident until `malloc_trim` returns them (a
no-op without glibc). The worker is forked from the web process and shares its pages until
either writes to them; the collector writes to the header of every object it walks, so what
lives at the fork is frozen first (`gc.freeze()`: never walked again), and the child freezes
its own start-up heap once ready (bench/memory.py, README).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
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
