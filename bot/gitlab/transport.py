"""GitLab HTTP calls with GitHub's rules (bot/github/client.py): transient faults retried with
backoff, `Retry-After` and `RateLimit-Reset` honoured, a wait longer than `MAX_INLINE_WAIT`
not slept through but raised as `RateLimited` (the delivery waits in the queue), and creating
POSTs whose outcome is unknown never resent (the effect looks for its marker first)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.forge.errors import ForgeRequestFailed, ForgeUnreachable, RateLimited

log = logging.getLogger(__name__)

MAX_INLINE_WAIT = timedelta(seconds=20)
MAX_RETRY = 4


class Transport:
    """One instance per GitLab host; `pauses` (host -> until) is shared with the queue."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        clock: Any = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        pauses: dict[str, datetime] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        base_seconds: float = 0.5,
    ) -> None:
        self.scope = httpx.URL(base_url).host
        self.graphql_url = base_url.rstrip("/") + "/api/graphql"  # versionless, beside /api/v4
        self._token = token
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/v4",
            headers={"PRIVATE-TOKEN": token, "User-Agent": "veilleur"},
            timeout=timeout,
            transport=transport,
        )
        self._clock = clock
        self._pauses = pauses if pauses is not None else {}
        self._sleep = sleep
        self._base = base_seconds
        self.calls = 0  # requests sent (bench/gitlab_backfill.py)
        self.graphql_calls = 0  # of which GraphQL queries
        self.remaining: int | None = None  # last RateLimit-Remaining seen

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self, method: str, path: str, *, replayable: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """The answer to one call (2xx or 404), after the retries its fault allows.
        `replayable`: a POST that changes nothing (a GraphQL query), retried like a GET."""
        attempt = 0
        while True:
            until = self._pauses.get(self.scope)
            if until is not None and until > self._now():
                raise RateLimited(self.scope, until)
            self.calls += 1
            try:
                resp = await self._client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if (method == "POST" and not replayable) or attempt >= MAX_RETRY:
                    raise ForgeUnreachable(f"{method} {path}: {exc!r}") from exc
                await self._sleep(self._base * 2**attempt)
                attempt += 1
                continue
            self._observe(resp)
            if resp.status_code == 429:
                wait = self._wait_of(resp)
                if wait > MAX_INLINE_WAIT or attempt >= MAX_RETRY:
                    until = self._now() + max(wait, timedelta(seconds=1))
                    self._pauses[self.scope] = until
                    raise RateLimited(self.scope, until)
                await self._sleep(wait.total_seconds())
                attempt += 1
                continue
            retry = method != "POST" or replayable
            if resp.status_code >= 500 and retry and attempt < MAX_RETRY:
                await self._sleep(self._base * 2**attempt)
                attempt += 1
                continue
            if resp.status_code >= 400 and resp.status_code != 404:
                raise ForgeRequestFailed(method, path, resp.status_code, resp.text)
            return resp

    def _observe(self, resp: httpx.Response) -> None:
        """`RateLimit-Remaining: 0` pauses the host until `RateLimit-Reset`."""
        remaining = resp.headers.get("ratelimit-remaining", "")
        if remaining.isdigit():
            self.remaining = int(remaining)
            reset = resp.headers.get("ratelimit-reset", "")
            if self.remaining == 0 and reset.isdigit() and resp.status_code != 429:
                self._pauses[self.scope] = datetime.fromtimestamp(int(reset), UTC)

    def _wait_of(self, resp: httpx.Response) -> timedelta:
        after = resp.headers.get("retry-after", "").strip()
        if after.isdigit():
            return timedelta(seconds=int(after))
        reset = resp.headers.get("ratelimit-reset", "")
        if reset.isdigit():
            return max(datetime.fromtimestamp(int(reset), UTC) - self._now(), timedelta(0))
        return timedelta(seconds=60)

    async def graphql(self, query: str, variables: dict[str, Any]) -> httpx.Response:
        """One GraphQL query (`POST /api/graphql`, the token as a bearer token, as GitLab's
        GraphQL docs ask), with the REST calls' retries and rate-limit rules."""
        self.graphql_calls += 1
        return await self.request(
            "POST",
            self.graphql_url,
            replayable=True,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self._token}"},
        )

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer, or None for 404 and empty answers."""
        resp = await self.request(method, path, **kwargs)
        if resp.status_code == 404 or resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    async def pages(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every page, following `X-Next-Page` (offset pagination)."""
        out: list[Any] = []
        query = {"per_page": 100, **(params or {})}
        while True:
            resp = await self.request("GET", path, params=query)
            if resp.status_code == 404:
                return out
            out.extend(resp.json() or [])
            nxt = resp.headers.get("x-next-page", "")
            if not nxt.isdigit():
                return out
            query["page"] = int(nxt)


def is_ambiguous(exc: BaseException) -> bool:
    if isinstance(exc, ForgeRequestFailed):
        return exc.status >= 500
    return isinstance(exc, ForgeUnreachable)


def status_of(exc: BaseException) -> int | None:
    return exc.status if isinstance(exc, ForgeRequestFailed) else None
