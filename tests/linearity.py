"""Work that grows at most linearly: compare the cost of 1, 2 and 4 times an input size.

Ratios of the best of several runs of CPU time of this thread (waiting for a core on a shared
machine does not count), never absolute times.
Linear work gives about 2 and 4; quadratic about 4 and 16. The bound leaves room for noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SIZES = (16_384, 32_768, 65_536)  # up to GitHub's 65,536-character limit on a comment


def _best(fn: Callable[[], object], repeat: int, loops: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        for _ in range(loops):
            fn()
        best = min(best, time.thread_time() - start)
    return best


def growth(work: Callable[[str], object], make: Callable[[int], str]) -> tuple[float, float]:
    """(cost(2n) / cost(n), cost(4n) / cost(n)) for inputs `make(n)` of the three sizes."""
    inputs = [make(n) for n in SIZES]
    loops = 1
    while _best(lambda: work(inputs[0]), 1, loops) < 0.002 and loops < 4096:
        loops *= 2  # long enough to measure, short enough for CI
    costs = [_best(lambda text=text: work(text), 3, loops) for text in inputs]  # type: ignore[misc]
    return costs[1] / costs[0], costs[2] / costs[0]


def assert_linear(work: Callable[[str], object], make: Callable[[int], str]) -> None:
    """Passes when one of three measurements looks linear: noise lifts a ratio now and then,
    a quadratic parser is far over the bound every time."""
    seen = []
    for _ in range(3):
        double, quadruple = growth(work, make)
        if quadruple < 8.0 and double < 4.0:
            return
        seen.append(f"x{double:.1f} for 2n, x{quadruple:.1f} for 4n")
    raise AssertionError(f"work grows faster than linearly: {'; '.join(seen)}")
