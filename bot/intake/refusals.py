"""Refused webhooks, logged so an operator sees them, at most once a minute however many come.

A wrong or missing secret refuses every delivery: without a log line, GitHub's "failed"
deliveries would be the only trace. A flood of forged requests must not flood the log either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("veilleur.intake")

REFUSING_ALL = (
    "VEILLEUR_WEBHOOK_SECRET is empty, so every webhook is refused: set it to the App's "
    "webhook secret"
)


class RefusalLog:
    """Counts refusals; logs the first, then one summary line per `every` seconds at most."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.unlogged = 0
        self.last: float | None = None

    def refused(self, reason: str, *, secret_set: bool) -> bool:
        """Note one refusal; True when this one was logged."""
        self.unlogged += 1
        now = self.clock()
        if self.last is not None and now - self.last < self.every:
            return False
        why = reason if secret_set else REFUSING_ALL
        log.warning("webhook refused (%d since the last report): %s", self.unlogged, why)
        self.last, self.unlogged = now, 0
        return True
