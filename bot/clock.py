"""Injectable clock: Veilleur asks `clock.now()` everywhere, so tests and the demo move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests, `veilleur demo`, `veilleur remind --at`)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def instant_arg(value: str | None, clock: Clock, example: str) -> datetime:
    """A command's `--at`: an ISO-8601 instant with its time zone, or now when not given."""
    if not value:
        return clock.now()
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise SystemExit(f"veilleur: --at needs a time zone, e.g. {example}")
    return at
