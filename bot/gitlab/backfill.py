"""History import from GitLab: every issue and merge request of a project, with its notes,
into the same record the webhooks write (bot/backfill/store.py), resumable and rate-limit
aware, with no item cap.

Items through REST, page by page (100 items, oldest first; `since`: updated since): a page is
written in one transaction and its cursor saved after it, so an interrupted import (a
`RateLimited` the transport raised, a crash) resumes at the page it stopped at; a run with
another `since`, or `restart`, starts over. Notes are asked only for items that have some
(`user_notes_count`), many items a GraphQL request (bot/gitlab/graphql_notes.py), REST where
GraphQL cannot help. Authors are classified from their access levels, once each. Requests per
1,000 items: bench/gitlab_backfill.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from bot.backfill.store import fresh_cursor, load_cursors, save_cursors, write_page
from bot.gitlab import shapes
from bot.gitlab.client import GitLabAPI
from bot.gitlab.graphql_notes import NotesReader
from bot.record.people import Facts, classify
from bot.record.timeline import Entry, Recorded, item_fields, ts
from bot.storage.models import TimelineKind as K

KINDS = {"issues": "issues", "merge_requests": "pulls"}  # GitLab collection -> cursor kind


def _utc(at: datetime | None) -> datetime | None:
    """A stored time (SQLite gives it back without its zone) in UTC."""
    return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)


@dataclass
class Imported:
    items: int = 0
    entries: int = 0
    requests: int = 0


def record_of(repo: str, raw: dict[str, Any], notes: list[dict[str, Any]], mr: bool) -> Recorded:
    """Pure step: one GitLab issue or merge request and its notes -> snapshot and entries,
    keyed as the webhooks key them, so that both write each fact once."""
    neutral = shapes.merge_request(raw, repo) if mr else shapes.issue(raw, repo)
    item = item_fields(repo, neutral, mr)
    author = neutral.get("user") or {"login": "ghost", "type": "User"}
    entries: list[Entry] = []
    if item["created_at"]:
        entries.append(Entry(K.OPENED, item["created_at"], author, "opened"))
    closer = shapes.user(raw.get("merge_user") or raw.get("closed_by")) or author
    if raw.get("state") == "merged" and item["merged_at"]:
        at = item["merged_at"]
        entries.append(Entry(K.MERGED, at, closer, f"{K.MERGED}:{at.isoformat()}"))
        item["closed_by"] = closer.get("login")
    elif raw.get("state") == "closed" and item["closed_at"]:
        at = item["closed_at"]
        entries.append(Entry(K.CLOSED, at, closer, f"{K.CLOSED}:{at.isoformat()}"))
        item["closed_by"] = closer.get("login")
    for note in notes:
        at = ts(note.get("created_at"))
        if at is None:
            continue
        detail = {"comment_id": note["id"], "body": str(note.get("body") or "")[:4000]}
        user = note.get("user") or {"login": "ghost", "type": "User"}
        entries.append(Entry(K.COMMENTED, at, user, f"comment:{note['id']}", detail))
    return Recorded(repo=repo, item=item, author=author, entries=entries)


class GitLabBackfill:
    def __init__(self, engine: Engine, api: GitLabAPI, clock: Any, progress: Any = None) -> None:
        self.engine = engine
        self.progress = progress  # bot/backfill/cli.py RichProgress: start, advance, finish
        self.api = api
        self.clock = clock
        self._classes: dict[str, str | None] = {}
        self._members: dict[str, dict[str, int]] = {}  # repo -> login -> access level
        self.notes = NotesReader(api)

    async def _class(self, repo: str, user: dict[str, Any]) -> str | None:
        """From the project's members (direct and inherited), listed once per import: a
        page per 100 members instead of two requests per author."""
        login = str(user.get("login") or "")
        if login not in self._classes:
            if user.get("type") == "Bot":
                self._classes[login] = "bot"
            else:
                if repo not in self._members:
                    rows = await self.api.http.pages(f"{self.api.project_url(repo)}/members/all")
                    self._members[repo] = {
                        str(m["username"]).lower(): int(m["access_level"])
                        for m in rows
                        if m.get("username") and isinstance(m.get("access_level"), int)
                    }
                facts = Facts(login=login)
                facts.permission = shapes.permission_of(self._members[repo].get(login.lower()))
                self._classes[login] = classify(facts, [], []).author_class
        return self._classes[login]

    async def run(
        self, repo: str, since: datetime | None = None, *, restart: bool = False
    ) -> Imported:
        """Import (or resume importing) one project's history."""
        out = Imported()
        start = self.api.http.calls
        cursors = load_cursors(self.engine, repo)
        if self.progress is not None:
            done = (
                0 if restart else sum(c.items for c in cursors.values() if c.kind in KINDS.values())
            )
            self.progress.start(repo, 0, done)
        for collection, kind in KINDS.items():
            cursor = cursors.get(kind)
            if cursor is None or restart or (since is not None and _utc(cursor.since) != since):
                cursor = fresh_cursor(repo, kind, since, self.clock.now())
                save_cursors(self.engine, [cursor])  # a retry after a rate limit resumes it
            if cursor.finished_at is not None:
                continue
            page = int(cursor.cursor or 1)
            while True:
                params: dict[str, Any] = {"state": "all", "order_by": "created_at"}
                params |= {"sort": "asc", "per_page": 100, "page": page}
                covered_from = _utc(cursor.since)
                if covered_from is not None:
                    params["updated_after"] = covered_from.isoformat()
                path = f"{self.api.project_url(repo)}/{collection}"
                resp = await self.api.http.request("GET", path, params=params)
                rows = resp.json() if resp.status_code == 200 else []
                written = await self._page(repo, rows, collection == "merge_requests")
                out.items += len(rows)
                out.entries += written
                nxt = resp.headers.get("x-next-page", "")
                cursor.items += len(rows)
                cursor.requests = self.api.http.calls - start
                cursor.cursor = nxt or None
                cursor.finished_at = None if nxt.isdigit() else self.clock.now()
                save_cursors(self.engine, [cursor])
                if self.progress is not None:
                    self.progress.advance(repo, len(rows))
                if not nxt.isdigit():
                    break
                page = int(nxt)
        out.requests = self.api.http.calls - start
        if self.progress is not None:
            self.progress.finish(repo)
        return out

    async def _page(self, repo: str, rows: list[dict[str, Any]], mr: bool) -> int:
        kind = "merge_requests" if mr else "issues"
        notes = await self.notes.notes(repo, kind, rows)
        records = [record_of(repo, raw, notes.get(int(raw["iid"]), []), mr) for raw in rows]
        classes: dict[str, str | None] = {}
        for rec in records:
            for person in [rec.author, *(e.actor for e in rec.entries)]:
                if person.get("login"):
                    classes[person["login"]] = await self._class(repo, person)
        return write_page(self.engine, repo, records, classes).entries_new
