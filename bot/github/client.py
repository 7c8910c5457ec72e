"""The GitHub client: one githubkit `GitHub` per process, and a thin per-installation API.

`GitHubAPI` lists every REST/GraphQL call Veilleur makes; the simulated forge serves exactly
these. Retries (5xx, timeouts, resets, primary and secondary rate limits) are githubkit's
retry hook with our policy; long waits are not slept through but surface as a failed
delivery, retried later by the queue.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from githubkit import AppAuthStrategy, GitHub
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)
from githubkit.typing import RetryOption

from bot import prometheus as metrics
from bot.forge import Forge, node_ids
from bot.forge import errors as forge_errors
from bot.github.graphql import query as graphql_query
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_INLINE_WAIT = timedelta(seconds=20)
# What one installation's client keeps of the files it reads again (`keep=True`: the
# configuration and the template overrides), for conditional requests: at most this many
# characters of file text and listings, the least recently used dropped first.
KEPT_CHARS = 1_000_000


# POSTs that create something: after a timeout, a reset or a 5xx the write may have landed,
# so they are not resent blindly; the caller looks for its marker first (bot/effects/executor.py).
_CREATES = re.compile(r"/issues/\d+/comments$|/repos/[^/]+/[^/]+/issues$")


def _request_of(exc: GitHubException) -> httpx.Request | None:
    try:
        if isinstance(exc, RequestFailed | RequestTimeout):
            return exc.request
        if isinstance(exc, RequestError) and isinstance(exc.exc, httpx.RequestError):
            return exc.exc.request
    except RuntimeError:  # httpx raises when an error carries no request
        return None
    return None


def is_ambiguous(exc: BaseException) -> bool:
    """The request may or may not have been carried out: timeout, broken connection, 5xx."""
    if isinstance(exc, RateLimitExceeded):
        return False  # refused before any processing
    if isinstance(exc, RequestFailed):
        return exc.response.status_code >= 500
    return isinstance(exc, RequestError)


def creates(exc: GitHubException) -> bool:
    request = _request_of(exc)
    return (
        request is not None and request.method == "POST" and bool(_CREATES.search(request.url.path))
    )


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a failed request, or None when there was no answer."""
    return exc.response.status_code if isinstance(exc, RequestFailed) else None


def _fault_kind(exc: GitHubException) -> str:
    if isinstance(exc, RateLimitExceeded):
        return "rate_limited"
    if isinstance(exc, RequestFailed):
        return "server_error" if exc.response.status_code >= 500 else "client_error"
    return "timeout" if isinstance(exc, RequestTimeout) else "connection"


class RetryPolicy:
    """Retry transient faults a few times with backoff; honour Retry-After and x-ratelimit-reset.

    Creating POSTs whose outcome is unknown (timeout, reset, 5xx) are not resent here: the
    effect layer checks for its marker before posting again, so nothing is posted twice."""

    def __init__(self, max_retry: int = 4, base_seconds: float = 0.5) -> None:
        self.max_retry = max_retry
        self.base_seconds = base_seconds

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        kind = _fault_kind(exc)
        if not isinstance(exc, RequestFailed):  # no HTTP answer: not seen by the response hook
            metrics.GITHUB_CALLS.labels(status=kind).inc()
        decision = self._decide(exc, retry_count)
        if decision.do_retry:
            metrics.GITHUB_RETRIES.labels(reason=kind).inc()
        return decision

    def _decide(self, exc: GitHubException, retry_count: int) -> RetryOption:
        if retry_count >= self.max_retry:
            return RetryOption(False)
        if isinstance(exc, RateLimitExceeded):
            # githubkit reads "Retry-After: 0" as unknown (60 s): a zero wait means retry now.
            zero = exc.response.headers.get("retry-after", "").strip() == "0"
            wait = timedelta(seconds=0.1) if zero else exc.retry_after
            if wait > MAX_INLINE_WAIT:  # let the queue retry later instead of holding a worker
                return RetryOption(False)
            return RetryOption(True, wait)
        if is_ambiguous(exc) and creates(exc):
            return RetryOption(False)
        backoff = timedelta(seconds=self.base_seconds * (2**retry_count))
        if isinstance(exc, RequestFailed) and exc.response.status_code >= 500:
            return RetryOption(True, backoff)
        if isinstance(exc, RequestTimeout) or (
            isinstance(exc, RequestError) and not isinstance(exc, RequestFailed)
        ):
            return RetryOption(True, backoff)
        return RetryOption(False)


class SharedTransport(httpx.AsyncBaseTransport):
    """One connection pool for the whole process.

    githubkit opens a short-lived `httpx.AsyncClient` per call outside a context manager and
    closes its transport afterwards; this wrapper keeps the pool alive until the lifespan ends.
    """

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(
            retries=1, limits=httpx.Limits(max_connections=50, max_keepalive_connections=20)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:  # closed by `close()`, not by each call's client
        return None

    async def close(self) -> None:
        await self._inner.aclose()


async def _observe(response: httpx.Response) -> None:
    metrics.GITHUB_CALLS.labels(status=str(response.status_code)).inc()


def make_app_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> GitHub[AppAuthStrategy]:
    """The process-wide client, authenticated as the App (JWT via pyjwt)."""
    settings.require_app()
    assert settings.app_id is not None
    return GitHub(
        AppAuthStrategy(str(settings.app_id), settings.private_key_pem()),
        base_url=settings.github_api_url.rstrip("/") + "/",
        timeout=settings.github_timeout_seconds,
        auto_retry=RetryPolicy(),
        user_agent="veilleur",
        http_cache=False,
        async_transport=transport,
        async_event_hooks={"response": [_observe]},
    )


def _path(value: str) -> str:
    return quote(value, safe="")


class NotFound(Exception):
    pass


class RateLimited(forge_errors.RateLimited):
    """GitHub asked this installation to wait until `until` (Retry-After, x-ratelimit-reset):
    the delivery waits, with every other of the installation, and no attempt is counted."""

    def __init__(self, installation_id: int, until: datetime) -> None:
        super().__init__(f"installation {installation_id}", until)
        self.installation_id = installation_id


# Methods that create or change content; GitHub asks for at least a second between them.
_WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class GitHubAPI:
    """Every call Veilleur makes, as one installation. Returns plain JSON values.

    Content-creating calls of the installation are spaced by `write_spacing` seconds, and a
    rate limit GitHub will not lift within `MAX_INLINE_WAIT` pauses the installation: `pauses`
    (shared by the dispatcher) holds until when, and calls made meanwhile wait for it by
    raising `RateLimited` at once."""

    own_login: str | None = None  # the App's login is the dispatcher's `bot_login`

    def __init__(
        self,
        app_client: GitHub[Any],
        installation_id: int,
        *,
        clock: Any = None,
        write_spacing: float = 0.0,
        pauses: dict[int, datetime] | None = None,
    ) -> None:
        auth = app_client.auth
        assert isinstance(auth, AppAuthStrategy)
        self.installation_id = installation_id
        self._gh = app_client.with_auth(auth.as_installation(installation_id))
        self._clock = clock
        self._spacing = write_spacing
        self._next_write = 0.0
        self._pauses = pauses if pauses is not None else {}
        # contents URL -> (ETag, what it answered, its size): `If-None-Match` next time
        self._kept: OrderedDict[str, tuple[str, Any, int]] = OrderedDict()
        self._kept_chars = 0

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)

    async def _pace(self) -> None:
        """Content-creating calls (REST writes, GraphQL mutations) wait for their slot."""
        if not self._spacing:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next_write)  # reserved before awaiting: no two share a slot
        self._next_write = slot + self._spacing
        if slot > now:
            await asyncio.sleep(slot - now)

    def _check_pause(self) -> None:
        until = self._pauses.get(self.installation_id)
        if until is not None and until > self._now():
            raise RateLimited(self.installation_id, until)

    async def _req(self, method: str, url: str, **kwargs: Any) -> Any:
        resp = await self._send(method, url, **kwargs)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    async def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        """One call, paced and paused as the installation must be; the githubkit response."""
        self._check_pause()
        if method in _WRITES and url != "/graphql":
            await self._pace()
        try:
            resp = await self._gh.arequest(method, url, **kwargs)
        except RateLimitExceeded as exc:
            zero = exc.response.headers.get("retry-after", "").strip() == "0"
            wait = timedelta(seconds=1) if zero else max(exc.retry_after, timedelta(seconds=1))
            until = self._now() + wait
            self._pauses[self.installation_id] = until
            raise RateLimited(self.installation_id, until) from exc
        remaining = resp.headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.isdigit():
            metrics.RATE_LIMIT_REMAINING.labels(installation=str(self.installation_id)).set(
                float(remaining)
            )
        return resp

    async def _req_or_none(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            return await self._req(method, url, **kwargs)
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return None
            raise

    # -- repositories and contents ---------------------------------------------------------
    async def get_repo(self, repo: str) -> dict[str, Any]:
        return await self._req("GET", f"/repos/{repo}")

    async def installation_repositories(self) -> list[dict[str, Any]]:
        """Every repository this installation covers (`GET /installation/repositories`)."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self._req(
                "GET", "/installation/repositories", params={"per_page": 100, "page": page}
            )
            batch = (body or {}).get("repositories") or []
            out.extend(batch)
            if len(batch) < 100 or len(out) >= int((body or {}).get("total_count") or 0):
                return out
            page += 1

    async def get_file(
        self, repo: str, path: str, ref: str | None = None, *, keep: bool = False
    ) -> str | None:
        """Text of a file, or None when absent. `keep`: this file is read again over time
        (`_contents`: a conditional request, answered 304 while it is unchanged)."""

        def text(data: Any) -> str | None:
            if not isinstance(data, dict) or data.get("type") != "file":
                return None
            return base64.b64decode(data.get("content") or "").decode("utf-8", "replace")

        return await self._contents(repo, path, {"ref": ref} if ref else None, text, keep)

    async def list_dir(self, repo: str, path: str, *, keep: bool = False) -> list[dict[str, Any]]:
        """Entries (`name`, `path`, `type`) of a directory, or [] when absent (`keep`: as
        `get_file`'s)."""

        def entries(data: Any) -> list[dict[str, Any]]:
            return data if isinstance(data, list) else []

        return list(await self._contents(repo, path, None, entries, keep))

    def place_of(self, repo: str, path: str) -> str:
        """GitHub keeps every file at its canonical place."""
        return path

    async def _contents(
        self,
        repo: str,
        path: str,
        params: dict[str, str] | None,
        read: Callable[[Any], Any],
        keep: bool,
    ) -> Any:
        """`GET /repos/{repo}/contents/{path}`, read by `read`. With `keep`, what it answered
        is kept with its `ETag`, and the next read sends `If-None-Match`: GitHub answers
        `304 Not Modified` while the file is unchanged, and does not count that answer against
        the rate limit; the kept value is then returned."""
        url = f"/repos/{repo}/contents/{quote(path)}"
        key = url + "?" + urlencode(params or {})
        kept = self._kept.get(key) if keep else None
        headers = {"If-None-Match": kept[0]} if kept is not None else None
        try:
            resp = await self._send("GET", url, params=params, headers=headers)
        except RequestFailed as exc:
            if exc.response.status_code != 404:
                raise
            self._forget(key)
            return read(None)
        if resp.status_code == 304 and kept is not None:
            self._kept.move_to_end(key)
            return kept[1]
        value = read(resp.json() if resp.content else None)
        etag = resp.headers.get("etag")
        if keep and etag:
            self._keep(key, etag, value)
        return value

    def _keep(self, key: str, etag: str, value: Any) -> None:
        self._forget(key)
        size = len(value) if isinstance(value, str) else len(repr(value))
        if size > KEPT_CHARS:
            return
        self._kept[key] = (etag, value, size)
        self._kept_chars += size
        while self._kept_chars > KEPT_CHARS:
            _, (_, _, dropped) = self._kept.popitem(last=False)
            self._kept_chars -= dropped

    def _forget(self, key: str) -> None:
        old = self._kept.pop(key, None)
        if old is not None:
            self._kept_chars -= old[2]

    async def community_profile(self, repo: str) -> dict[str, Any] | None:
        return await self._req_or_none("GET", f"/repos/{repo}/community/profile")

    # -- people ----------------------------------------------------------------------------
    async def get_user(self, login: str) -> dict[str, Any] | None:
        return await self._req_or_none("GET", f"/users/{_path(login)}")

    async def is_org_member(self, org: str, login: str) -> bool:
        """Public and private members (the App has `members: read`)."""
        try:
            await self._req("GET", f"/orgs/{_path(org)}/members/{_path(login)}")
            return True
        except RequestFailed as exc:
            if exc.response.status_code in (302, 404):
                return False
            raise

    async def team_membership(self, org: str, team_slug: str, login: str) -> str | None:
        """`active`, `pending`, or None."""
        data = await self._req_or_none(
            "GET", f"/orgs/{_path(org)}/teams/{_path(team_slug)}/memberships/{_path(login)}"
        )
        return data.get("state") if isinstance(data, dict) else None

    async def collaborator_permission(self, repo: str, login: str) -> str | None:
        """`admin`, `maintain`, `write`, `triage`, `read`, or None (from `role_name`)."""
        data = await self._req_or_none(
            "GET", f"/repos/{repo}/collaborators/{_path(login)}/permission"
        )
        if not isinstance(data, dict):
            return None
        role = data.get("role_name") or data.get("permission")
        return None if role in (None, "", "none") else str(role)

    # -- issues and pull requests ----------------------------------------------------------
    async def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        return await self._req("GET", f"/repos/{repo}/issues/{number}")

    async def list_issues(self, repo: str, **params: Any) -> list[dict[str, Any]]:
        """One page (per_page up to 100) of issues and PRs; pass creator=, state=, labels=…"""
        params.setdefault("per_page", 100)
        return await self._req("GET", f"/repos/{repo}/issues", params=params) or []

    async def create_issue(
        self, repo: str, title: str, body: str, labels: list[str] | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"title": title, "body": body}
        if labels:
            payload["labels"] = labels
        return await self._req("POST", f"/repos/{repo}/issues", json=payload)

    async def update_issue(self, repo: str, number: int, **fields: Any) -> dict[str, Any]:
        return await self._req("PATCH", f"/repos/{repo}/issues/{number}", json=fields)

    async def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = await self._req(
                "GET",
                f"/repos/{repo}/issues/{number}/comments",
                params={"per_page": 100, "page": page},
            )
            out.extend(batch or [])
            if not batch or len(batch) < 100:
                return out
            page += 1

    async def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        return await self._req(
            "POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body}
        )

    async def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        return await self._req(
            "PATCH", f"/repos/{repo}/issues/comments/{comment_id}", json={"body": body}
        )

    async def add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        await self._req("POST", f"/repos/{repo}/issues/{number}/labels", json={"labels": labels})

    async def remove_label(self, repo: str, number: int, label: str) -> None:
        await self._req_or_none("DELETE", f"/repos/{repo}/issues/{number}/labels/{_path(label)}")

    async def change_labels(
        self, repo: str, number: int, add: list[str], remove: list[str], ids: Mapping[str, str]
    ) -> bool:
        """Labels added and removed in one GraphQL request (REST takes one per label removed),
        when the node ids of the item and of every label are known (bot/forge/node_ids.py);
        False otherwise: then the caller adds and removes them over REST."""
        item = ids.get(node_ids.item_key(repo, number))
        add_ids = [ids.get(node_ids.label_key(repo, n)) for n in add]
        remove_ids = [ids.get(node_ids.label_key(repo, n)) for n in remove]
        if item is None or None in add_ids or None in remove_ids:
            return False
        text, variables = labels_mutation(item, add_ids, remove_ids)  # type: ignore[arg-type]
        self._check_pause()
        await self._pace()
        await graphql_query(self, text, variables)  # GraphQLErrors: the caller uses REST
        return True

    async def get_label(self, repo: str, name: str) -> dict[str, Any] | None:
        return await self._req_or_none("GET", f"/repos/{repo}/labels/{_path(name)}")

    async def create_label(
        self, repo: str, name: str, color: str, description: str
    ) -> dict[str, Any] | None:
        try:
            created: dict[str, Any] = await self._req(
                "POST",
                f"/repos/{repo}/labels",
                json={"name": name, "color": color, "description": description},
            )
        except RequestFailed as exc:
            if exc.response.status_code != 422:  # already exists: fine
                raise
            return None
        return created

    async def add_assignees(self, repo: str, number: int, logins: list[str]) -> None:
        await self._req(
            "POST", f"/repos/{repo}/issues/{number}/assignees", json={"assignees": logins}
        )

    async def remove_assignees(self, repo: str, number: int, logins: list[str]) -> None:
        await self._req(
            "DELETE", f"/repos/{repo}/issues/{number}/assignees", json={"assignees": logins}
        )

    async def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        return await self._req("GET", f"/repos/{repo}/pulls/{number}")

    async def list_pull_files(self, repo: str, number: int) -> list[dict[str, Any]]:
        return (
            await self._req("GET", f"/repos/{repo}/pulls/{number}/files", params={"per_page": 100})
            or []
        )

    async def list_pull_commits(self, repo: str, number: int) -> list[dict[str, Any]]:
        return (
            await self._req(
                "GET", f"/repos/{repo}/pulls/{number}/commits", params={"per_page": 100}
            )
            or []
        )

    async def requested_reviewers(self, repo: str, number: int) -> dict[str, Any]:
        return await self._req("GET", f"/repos/{repo}/pulls/{number}/requested_reviewers")

    async def create_check_run(self, repo: str, **fields: Any) -> dict[str, Any]:
        return await self._req("POST", f"/repos/{repo}/check-runs", json=fields)

    # -- failures (bot/forge/protocol.py) ----------------------------------------------------
    def status_of(self, exc: BaseException) -> int | None:
        return status_of(exc)

    def is_ambiguous(self, exc: BaseException) -> bool:
        return is_ambiguous(exc)

    # -- GraphQL ---------------------------------------------------------------------------
    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        return await self._gh.async_graphql(query, variables or {})


def labels_mutation(item: str, add: list[str], remove: list[str]) -> tuple[str, dict[str, Any]]:
    """The document adding then removing labels by node id, and its variables."""
    fields: list[str] = []
    params = ["$item: ID!"]
    variables: dict[str, Any] = {"item": item}
    for alias, field, ids in (
        ("add", "addLabelsToLabelable", add),
        ("remove", "removeLabelsFromLabelable", remove),
    ):
        if ids:
            params.append(f"${alias}: [ID!]!")
            fields.append(
                f"{alias}: {field}(input: {{labelableId: $item, labelIds: ${alias}}})"
                " { clientMutationId }"
            )
            variables[alias] = ids
    text = f"mutation ChangeLabels({', '.join(params)}) {{ {' '.join(fields)} }}"
    return text, variables


async def app_installations(app_client: GitHub[Any]) -> list[dict[str, Any]]:
    """Every installation of the App, all pages."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        resp = await app_client.arequest(
            "GET", "/app/installations", params={"per_page": 100, "page": page}
        )
        batch = resp.json() or []
        out.extend(batch)
        if len(batch) < 100:
            return out
        page += 1


async def app_login(app_client: GitHub[Any]) -> str:
    """The bot account's login (`<slug>[bot]`), used to ignore the bot's own events."""
    resp = await app_client.arequest("GET", "/app")
    return f"{resp.json()['slug']}[bot]"


def _implements_forge(api: GitHubAPI) -> Forge:
    """Never called: mypy checks here that GitHubAPI satisfies the Forge protocol."""
    return api
