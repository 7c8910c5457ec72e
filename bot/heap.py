"""Give freed heap back to the system: glibc keeps freed memory for reuse unless asked.

After a burst (language models unloaded, a large digest built), the pages freed stay in the
process's resident size until `malloc_trim` returns them. A no-op without glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
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
