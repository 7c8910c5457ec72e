"""What a request not yet verified may cost: memory, shared by all connections, and time.

Anyone can open connections to the webhook endpoint; until the signature is checked, a body
is a stranger's. Bodies are read before they can be verified, so the bytes they hold are
counted: the first 64 KiB of each body (every real delivery but a few) come from a small
share of the budget, the rest from the large share; a body that would go past its share is
refused with 503 (and its connection closed). Slow senders are cut off: a request, headers
and body, must arrive within `VEILLEUR_REQUEST_TIMEOUT_SECONDS` (`header_deadline_protocol`,
what `veilleur serve` runs; GitHub itself waits 10 s for an answer). A body cut off that way
reads as a disconnect, and gives its bytes back to the budget.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

SMALL_BODY = 64 * 1024


class UnverifiedBudget:
    """Bytes held by bodies whose signature is not checked yet. One event loop: no lock."""

    def __init__(self, limit_bytes: int) -> None:
        self.small_limit = max(limit_bytes // 4, SMALL_BODY)
        self.large_limit = max(limit_bytes - self.small_limit, SMALL_BODY)
        self.small = 0
        self.large = 0

    def take(self, held: int, more: int) -> bool:
        """May a body already holding `held` bytes hold `more`? Counts them if so."""
        small = max(min(held + more, SMALL_BODY) - held, 0)
        large = more - small
        if self.small + small > self.small_limit or self.large + large > self.large_limit:
            return False
        self.small += small
        self.large += large
        return True

    def give_back(self, held: int) -> None:
        small = min(held, SMALL_BODY)
        self.small -= small
        self.large -= held - small


def header_deadline_protocol(seconds: float) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol, closing a connection whose request (headers and body) takes
    longer than `seconds` to arrive, on a new connection and between keep-alive requests. One
    timer per request in the protocol: cheaper than a timeout around each body read."""

    class HeaderDeadline(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_complete(self) -> None:
            self._disarm()  # headers and body arrived in time
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.pipeline and not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadline
