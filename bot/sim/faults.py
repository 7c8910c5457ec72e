"""Fault injection: make the next N matching requests fail the way GitHub (or the network) does.

- `status=429|403` with `retry_after`: a secondary rate limit (Retry-After header);
  without it: a primary one (`x-ratelimit-remaining: 0`, reset one minute ahead).
  Beware `retry_after=0`: githubkit reads a zero wait as "unknown" and sleeps 60 s.
- `status=5xx` (or any other): a GitHub-style error body with that status.
- `delay=s`: wait before answering; alone it slows a normal answer down (e.g. past the
  client's timeout), with a status it delays the failure.
- `reset_connection=True`: the server aborts the TCP connection without any answer.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus

SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"


@dataclass
class Fault:
    method: str  # "GET", …, or "*"
    pattern: re.Pattern[str]  # searched in the request path (no query string)
    status: int | None
    times: int
    retry_after: int | None = None
    delay: float | None = None
    reset_connection: bool = False
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and bool(self.pattern.search(path))

    def response(self, installation_id: int | None) -> tuple[int, dict[str, str], dict[str, str]]:
        """(status, headers, body) of the failure."""
        status = self.status or 502
        headers: dict[str, str] = {}
        if status in (403, 429) and self.retry_after is not None:
            headers["retry-after"] = str(self.retry_after)
            body = {
                "message": SECONDARY,
                "documentation_url": f"{DOCS}#about-secondary-rate-limits",
            }
        elif status in (403, 429):
            reset = int(time.time()) + 60  # wall clock: clients compare it with theirs
            headers |= {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
            who = f"installation ID {installation_id}" if installation_id else "this client"
            message = f"API rate limit exceeded for {who}."
            body = {"message": message, "documentation_url": f"{DOCS}#about-rate-limits"}
        else:
            body = {
                "message": HTTPStatus(status).phrase,
                "documentation_url": "https://docs.github.com/rest",
            }
        return status, headers, body | {"status": str(status)}


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active: list[Fault] = []

    def add(
        self,
        method: str,
        path_regex: str,
        *,
        status: int | None = None,
        times: int = 1,
        retry_after: int | None = None,
        delay: float | None = None,
        reset_connection: bool = False,
    ) -> Fault:
        if status is None and delay is None and not reset_connection:
            status = 502
        fault = Fault(
            method.upper(), re.compile(path_regex), status, times, retry_after, delay,
            reset_connection,
        )  # fmt: skip
        with self._lock:
            self.active.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first matching fault with uses left, counting this use."""
        with self._lock:
            for fault in self.active:
                if fault.hits < fault.times and fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self.active.clear()
