"""History import: every issue and pull request of an organization's installed repositories,
with comments, reviews, pushes and label, assignment, close, reopen, merge, draft and review
request events, written into Veilleur's record exactly as the webhooks would have.

- Cost: one GraphQL request fetches a page of 100 issues *and* 100 pull requests of a
  repository with the first 100 timeline items of each; an item's further timeline pages are
  fetched only when it has more. People are classified in bulk (`backfill_people`).
- Resumable: after each page the cursors of (repository, `issues`|`pulls`) are saved in
  `backfill_cursors`; a rerun continues an interrupted import. The row `refresh` is the
  watermark of the last complete import: later runs only ask for what changed since it
  began (issues by `filterBy.since`; pull requests, which GitHub cannot filter, newest first
  until an older one). So the nightly refresh is the same call as a first import.
- Rate limits: every query asks `rateLimit { cost remaining resetAt }`; when the remaining
  points cannot pay for the next query the import sleeps until `resetAt` (through the given
  `sleep`, testable without waiting). A refusal anyway (primary `RATE_LIMITED`, or a 403/429
  secondary limit that githubkit's retry gave up on) waits for its reset or Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from bot.backfill.graphql import ITEMS_QUERY, REPOS_QUERY, TIMELINE_QUERY, item_record
from bot.backfill.people import People
from bot.backfill.stats import Stats
from bot.backfill.store import fresh_cursor, load_cursors, save_cursors, write_page
from bot.clock import Clock
from bot.github.graphql import GraphQLErrors, GraphQLRateLimited
from bot.github.graphql import query as graphql_query
from bot.record.people import OUTSIDE_CLASSES
from bot.record.timeline import Recorded, mark_questions, ts
from bot.services import Services
from bot.storage.models import BackfillCursor, Repository

log = logging.getLogger(__name__)
Json = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]
KINDS = (("issues", "issues", False), ("pulls", "pullRequests", True))


class Progress(Protocol):
    def start(self, repo: str, total: int, done: int) -> None: ...
    def advance(self, repo: str, items: int) -> None: ...
    def finish(self, repo: str) -> None: ...


class BackfillError(Exception):
    pass


@dataclass
class Options:
    since: datetime | None = None  # only items updated since (None: the whole history)
    restart: bool = False  # ignore saved cursors and the watermark
    page_size: int = 100
    timeline_page: int = 100
    overlap: timedelta = timedelta(minutes=10)  # refreshes re-read this much before the mark
    max_waits: int = 30


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at else None


def plan(
    rows: dict[str, BackfillCursor], repo: str, options: Options, now: datetime
) -> tuple[dict[str, BackfillCursor], dict[str, BackfillCursor], bool]:
    """Which (kind -> cursor row) to run now, the rows of this run (including kinds already
    finished in it), and whether the watermark already covers the requested range."""
    mark = rows.get("refresh")
    covered = bool(
        mark is not None and mark.finished_at is not None and mark.started_at is not None
        and not options.restart
        and (mark.since is None or (options.since is not None and mark.since <= options.since))
    )  # fmt: skip
    since = options.since
    if covered:
        assert mark is not None and mark.started_at is not None
        start = mark.started_at - options.overlap
        since = start if since is None else max(since, start)
    active: dict[str, BackfillCursor] = {}
    generation: dict[str, BackfillCursor] = {}
    for kind, _, _ in KINDS:
        row = rows.get(kind)
        if row is not None and not options.restart and row.since == since:
            if row.finished_at is None:
                active[kind] = generation[kind] = row  # interrupted: resume at its cursor
                continue
            newer = mark is None or mark.started_at is None or (
                row.started_at is not None and row.started_at > mark.started_at
            )  # fmt: skip
            if newer:
                generation[kind] = row  # finished in this run already
                continue
        active[kind] = generation[kind] = fresh_cursor(repo, kind, since, now)
    return active, generation, covered


class Backfill:
    def __init__(
        self,
        api: Any,
        engine: Engine,
        clock: Clock,
        *,
        services: Services | None = None,
        options: Options | None = None,
        sleep: Sleep = asyncio.sleep,
        progress: Progress | None = None,
        after_page: Callable[[str], Any] | None = None,
    ) -> None:
        """`after_page(repo)` runs after each stored page (tests inject faults there)."""
        self.api = api
        self.engine = engine
        self.clock = clock
        self.options = options or Options()
        self.sleep = sleep
        self.progress = progress
        self.after_page = after_page
        self.stats = Stats()
        services = services or Services()
        classifier = services.get("classifier")
        ttl = getattr(classifier, "ttl", None) or timedelta(days=1)
        self.people = People(self.query, engine, clock, api=api, services=services, ttl=ttl)
        self._remaining: int | None = None
        self._reset_at: datetime | None = None
        self._costs: dict[str, int] = {}  # query text -> its last cost (1 until seen)

    # -- GraphQL with rate-limit pacing ----------------------------------------------------
    async def query(
        self, text: str, variables: Json, tolerate: bool = False
    ) -> tuple[Json, list[Json]]:
        """Data (and, with `tolerate`, the errors beside partial data)."""
        for _ in range(self.options.max_waits + 1):
            await self._pace(self._costs.get(text, 1))
            self.stats.requests += 1
            try:
                data = await graphql_query(self.api, text, variables)
                errors: list[Json] = []
            except GraphQLRateLimited as exc:
                await self._wait(self._retry_after(exc.headers), "rate limited")
                continue
            except GraphQLErrors as exc:
                if not tolerate or exc.data is None:
                    raise
                data, errors = exc.data, exc.errors
            self._note(text, data.get("rateLimit"))
            return data, errors
        raise BackfillError(f"still rate limited after {self.options.max_waits} waits")

    def _note(self, text: str, rate: Json | None) -> None:
        if not rate:
            return
        self._remaining = rate.get("remaining")
        self._reset_at = ts(rate.get("resetAt"))
        self._costs[text] = int(rate.get("cost") or 1)

    async def _pace(self, cost: int) -> None:
        """Sleep until the budget resets when it cannot pay for the next query."""
        if self._remaining is None or self._reset_at is None or self._remaining >= cost:
            return
        wait = (self._reset_at - self.clock.now()).total_seconds() + 1
        self._remaining = None
        if wait > 0:
            await self._wait(wait, f"{cost} points needed, budget resets at {_iso(self._reset_at)}")

    def _retry_after(self, headers: Mapping[str, str]) -> float:
        if headers.get("retry-after", "").strip().isdigit():
            return max(float(headers["retry-after"]), 1.0)
        reset = headers.get("x-ratelimit-reset", "").strip()
        at = datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else self._reset_at
        if at is not None:
            return max((at - self.clock.now()).total_seconds() + 1, 1.0)
        return 60.0

    async def _wait(self, seconds: float, why: str) -> None:
        log.info("backfill: waiting %.0f s (%s)", seconds, why)
        self.stats.waited_seconds += seconds
        await self.sleep(seconds)

    # -- repositories ----------------------------------------------------------------------
    async def repos_of(self, org: str, installation_id: int | None = None) -> list[str]:
        """Installed repositories from the record; if none is known, the organization's
        repositories the installation can read (GraphQL lists public ones too)."""
        with Session(self.engine) as s:
            q = select(Repository.full_name).where(
                func.lower(Repository.owner) == org.lower(),
                Repository.removed_at.is_(None),  # type: ignore[union-attr]
            )
            if installation_id is not None:
                q = q.where(Repository.installation_id == installation_id)
            known = sorted(set(s.exec(q).all()))
        if known:
            return known
        found: list[str] = []
        after: str | None = None
        while True:
            data, _ = await self.query(REPOS_QUERY, {"org": org, "after": after})
            conn = (data.get("organization") or {}).get("repositories") or {}
            found += [n["nameWithOwner"] for n in conn.get("nodes") or []]
            page = conn.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return found
            after = page.get("endCursor")

    async def run_org(
        self, org: str, repos: list[str] | None = None, installation_id: int | None = None
    ) -> Stats:
        repos = repos if repos is not None else await self.repos_of(org, installation_id)
        await self.people.load(org, repos)
        for repo in repos:
            try:
                await self.run_repo(repo)
            except GraphQLErrors as exc:  # e.g. the repository is gone: the others go on
                log.warning("backfill of %s failed: %r", repo, exc)
                self.stats.failed.append(repo)
        return self.stats

    async def run_repo(self, repo: str) -> None:
        now = self.clock.now()
        rows = load_cursors(self.engine, repo)
        active, generation, covered = plan(rows, repo, self.options, now)
        self.stats.repos += 1
        requests_before = self.stats.requests
        started = False
        while active:
            page_requests, taking_part = self.stats.requests, list(active.values())
            data, _ = await self.query(ITEMS_QUERY, self._variables(repo, active))
            found = data.get("repository") or {}
            if not started and self.progress is not None:
                total = sum(
                    int((found.get(key) or {}).get("totalCount") or 0) for _, key, _ in KINDS
                )
                self.progress.start(repo, total, sum(r.items for r in active.values()))
                started = True
            records: list[Recorded] = []
            for kind, key, is_pull in KINDS:
                row = active.get(kind)
                if row is not None:
                    records += await self._page(repo, row, found.get(key) or {}, is_pull)
                    if row.finished_at is not None:
                        del active[kind]
            await self._store(repo, records)
            for row in taking_part:  # a page serves both kinds: each row counts it
                row.requests += self.stats.requests - page_requests
            save_cursors(self.engine, generation.values())
            if self.progress is not None:
                self.progress.advance(repo, len(records))
            if self.after_page is not None:
                self.after_page(repo)
        self._finish(
            repo, rows.get("refresh"), generation, covered, self.stats.requests - requests_before
        )
        if self.progress is not None and started:
            self.progress.finish(repo)

    def _variables(self, repo: str, active: dict[str, BackfillCursor]) -> Json:
        owner, name = repo.split("/", 1)
        issues, pulls = active.get("issues"), active.get("pulls")
        return {
            "owner": owner,
            "name": name,
            "first": self.options.page_size,
            "timeline": self.options.timeline_page,
            "issues": issues is not None,
            "pulls": pulls is not None,
            "issuesAfter": issues.cursor if issues else None,
            "pullsAfter": pulls.cursor if pulls else None,
            "since": _iso(issues.since) if issues else None,
            "pullsDirection": "ASC" if pulls is None or pulls.since is None else "DESC",
        }

    async def _page(
        self, repo: str, row: BackfillCursor, conn: Json, is_pull: bool
    ) -> list[Recorded]:
        nodes = conn.get("nodes") or []
        page = conn.get("pageInfo") or {}
        done = not page.get("hasNextPage")
        if is_pull and row.since is not None:  # newest first: stop at the first older one
            keep = [n for n in nodes if (ts(n.get("updatedAt")) or row.since) >= row.since]
            done = done or len(keep) < len(nodes)
            nodes = keep
        out = [item_record(repo, n, await self._timeline(n), is_pull) for n in nodes]
        row.items += len(out)
        row.cursor = None if done else (page.get("endCursor") or row.cursor)
        if done:
            row.finished_at = self.clock.now()
        self.stats.items += len(out)
        return out

    async def _timeline(self, node: Json) -> list[Json]:
        conn = node.get("timelineItems") or {}
        items = list(conn.get("nodes") or [])
        while (conn.get("pageInfo") or {}).get("hasNextPage"):
            variables = {
                "id": node["id"],
                "after": conn["pageInfo"].get("endCursor"),
                "timeline": self.options.timeline_page,
            }
            data, _ = await self.query(TIMELINE_QUERY, variables)
            conn = (data.get("node") or {}).get("timelineItems") or {}
            items += conn.get("nodes") or []
        return items

    async def _store(self, repo: str, records: list[Recorded]) -> None:
        people: dict[str, Json] = {}
        for rec in records:
            people.setdefault(rec.item["author_login"], rec.author)
            for e in rec.entries:
                if e.actor.get("login"):
                    people.setdefault(e.actor["login"], e.actor)
        classes = await self.people.classes_for(repo, people)
        for rec in records:
            mark_questions(rec, classes)
            if classes.get(rec.item["author_login"]) not in OUTSIDE_CLASSES:
                rec.item.pop("author_company", None)  # recorded for outside authors only, as
                rec.item.pop("author_email_domain", None)  # `records` does (for the digest)
        written = write_page(self.engine, repo, records, classes)
        self.stats.items_new += written.items_new
        self.stats.entries_new += written.entries_new

    def _finish(
        self,
        repo: str,
        mark: BackfillCursor | None,
        generation: dict[str, BackfillCursor],
        covered: bool,
        requests: int,
    ) -> None:
        """Both kinds done: the watermark now covers up to this run's start."""
        if any(r.finished_at is None for r in generation.values()):
            return
        starts = [r.started_at for r in generation.values() if r.started_at is not None]
        mark = mark or BackfillCursor(repo_full_name=repo, kind="refresh", items=0, requests=0)
        if not covered:
            mark.since = self.options.since
        mark.started_at = min(starts) if starts else self.clock.now()
        mark.finished_at = self.clock.now()
        mark.cursor = None
        mark.items = (mark.items or 0) + sum(r.items for r in generation.values())
        mark.requests = (mark.requests or 0) + requests
        save_cursors(self.engine, [mark])
