"""GitLab projects in Veilleur's repository table, so that the SLA sweep, the digest and the
dashboard see them. A project is recorded when one of its hooks is first seen, and every
project the token can reach by `sync` (the hourly reconciliation, bot/periodic.py).

A project keeps its id when it is renamed or moved to another group: seen under a new path
(a hook, or the hourly sync), its record is re-keyed to that path (bot/record/rekey.py).

Row ids: the table's key is GitHub's repository id; a GitLab project is stored under the
negative of its project id, so the two forges' ids never meet (one GitLab instance).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.forge.names import owner_of
from bot.record.rekey import rekey
from bot.storage.models import BackfillCursor, Repository


def row_id(project_id: int) -> int:
    return -abs(int(project_id))


def record(engine: Engine, repo: dict[str, Any], now: datetime) -> bool:
    """Record (or refresh) one project in the neutral repository shape; True when it was new
    or had been removed."""
    if not isinstance(repo.get("id"), int) or not repo.get("full_name"):
        return False
    with Session(engine) as s:
        row = s.get(Repository, row_id(repo["id"]))
        fresh = row is None or row.removed_at is not None
        if row is None:
            row = Repository(id=row_id(repo["id"]), full_name="", owner="", added_at=now)
        changed = fresh or (row.full_name, row.default_branch) != (
            repo["full_name"],
            repo.get("default_branch"),
        )
        if not changed:
            return False
        if row.full_name and row.full_name != repo["full_name"]:  # renamed or transferred
            rekey(s, row.full_name, str(repo["full_name"]))
        row.full_name = str(repo["full_name"])
        row.owner = owner_of(row.full_name)
        row.private = bool(repo.get("private"))
        row.default_branch = repo.get("default_branch") or None
        row.removed_at = None
        s.add(row)
        s.commit()
        return fresh


async def sync(engine: Engine, api: Any, now: datetime) -> int:
    """Every project the token reaches; returns how many were new."""
    return sum(record(engine, repo, now) for repo in await api.installation_repositories())


async def unfinished(engine: Engine, host: str) -> list[str]:
    """Projects of `host` whose history import has not finished (or never started)."""
    prefix = f"{host}/"
    with Session(engine) as s:
        names = [
            r.full_name
            for r in s.exec(select(Repository).where(col(Repository.removed_at).is_(None)))
            if r.full_name.startswith(prefix)
        ]
        done = {
            (c.repo_full_name, c.kind)
            for c in s.exec(
                select(BackfillCursor).where(col(BackfillCursor.finished_at).is_not(None))
            )
        }
    return [n for n in names if not {(n, "issues"), (n, "pulls")} <= done]
