"""What a history import counts, and the one line both forges' `veilleur backfill` ends with."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Stats:
    repos: int = 0
    items: int = 0
    items_new: int = 0
    entries_new: int = 0
    requests: int = 0
    waited_seconds: float = 0.0
    failed: list[str] = field(default_factory=list)


def summary(stats: Stats, seconds: float, counts: str) -> str:
    """`counts` (the forge's own first phrase), then the cost per 1,000 items, the rate, the
    time waited for the rate limit and what failed."""
    rate = stats.items / seconds if seconds > 0 else 0.0
    per_k = 1000 * stats.requests / stats.items if stats.items else 0.0
    waited = (
        f", waited {stats.waited_seconds:.0f} s for the rate limit" if stats.waited_seconds else ""
    )
    failed = f"; failed: {', '.join(stats.failed)}" if stats.failed else ""
    return f"{counts} ({per_k:.1f} per 1,000 items), {rate:.1f} items/s{waited}{failed}"
