"""Failures every forge client reports the same way, so the queue and the effects need not
know which forge answered."""

from __future__ import annotations

from datetime import datetime


class RateLimited(Exception):
    """The forge asked to wait until `until` (Retry-After, rate-limit reset): the delivery
    is postponed, no attempt counted. `scope` is what waits (an installation, a GitLab host)."""

    def __init__(self, scope: str, until: datetime) -> None:
        super().__init__(f"rate limited until {until.isoformat(timespec='seconds')}")
        self.scope = scope
        self.until = until


class ForgeRequestFailed(Exception):
    """An HTTP answer that is an error (4xx, 5xx), from a forge client that is not githubkit."""

    def __init__(self, method: str, path: str, status: int, text: str = "") -> None:
        super().__init__(f"{method} {path}: HTTP {status} {text[:200]}")
        self.method = method
        self.path = path
        self.status = status


class ForgeUnreachable(Exception):
    """No answer (timeout, broken connection): the request may or may not have been carried out."""
