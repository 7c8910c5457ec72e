"""Make the record of installations and repositories match GitHub's.

The sweep only sees repositories in Veilleur's record. An `installation` delivery can be lost
(a new server, a move to PostgreSQL, a delivery older than the 24 h recovery window), and an
App installed before the database existed never sent one. So at start and every hour Veilleur
asks GitHub which installations it has (`GET /app/installations`) and which repositories each
covers (`GET /installation/repositories`): what is missing is recorded, what GitHub no longer
lists is marked removed. A repository found this way is `added_at` now, so its imported
history gets the grace rule while items Veilleur saw opened live are reminded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.storage.models import Installation, Repository

log = logging.getLogger(__name__)


@dataclass
class Reconciled:
    """What one reconciliation changed (for the log)."""

    installations_added: list[str] = field(default_factory=list)
    installations_gone: list[str] = field(default_factory=list)
    repositories_added: list[str] = field(default_factory=list)
    repositories_removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(vars(self).values())


def _instant(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return None


def apply(
    session: Session,
    installations: list[dict[str, Any]],
    repositories: dict[int, list[dict[str, Any]] | None],
    now: datetime,
) -> Reconciled:
    """Write GitHub's answer into the record. `repositories[id]` is None when that
    installation's list could not be read: its repositories are then left as they are."""
    out = Reconciled()
    listed = {int(i["id"]) for i in installations if isinstance(i.get("id"), int)}
    for data in installations:
        if not isinstance(data.get("id"), int):
            continue
        account = data.get("account") or {}
        inst = session.get(Installation, data["id"])
        if inst is None or inst.deleted_at is not None:
            out.installations_added.append(str(account.get("login") or data["id"]))
        inst = inst or Installation(id=data["id"], account_login=account.get("login") or "")
        inst.account_login = account.get("login") or inst.account_login
        inst.account_type = account.get("type") or inst.account_type
        inst.repository_selection = data.get("repository_selection") or inst.repository_selection
        inst.created_at = inst.created_at or _instant(data.get("created_at")) or now
        inst.suspended_at = _instant(data.get("suspended_at"))
        inst.deleted_at = None
        session.add(inst)
    active = session.exec(select(Installation).where(col(Installation.deleted_at).is_(None)))
    for inst in list(active):
        if inst.id not in listed:  # uninstalled while Veilleur was not listening
            inst.deleted_at = now
            session.add(inst)
            out.installations_gone.append(inst.account_login)
            repositories[inst.id] = []
    for inst_id, repos in repositories.items():
        if repos is None:
            continue
        _repositories(session, inst_id, repos, now, out)
    return out


def _repositories(
    session: Session, inst_id: int, repos: list[dict[str, Any]], now: datetime, out: Reconciled
) -> None:
    seen: set[int] = set()
    for data in repos:
        full_name = data.get("full_name")
        if not isinstance(data.get("id"), int) or not isinstance(full_name, str):
            continue
        seen.add(data["id"])
        repo = session.get(Repository, data["id"])
        if repo is None:
            repo = Repository(
                id=data["id"], full_name=full_name, owner=full_name.split("/")[0], added_at=now
            )
            out.repositories_added.append(full_name)
        elif repo.removed_at is not None:
            out.repositories_added.append(repo.full_name)
        repo.installation_id = inst_id
        repo.removed_at = None
        if isinstance(data.get("private"), bool):
            repo.private = data["private"]
        repo.default_branch = data.get("default_branch") or repo.default_branch
        if repo.full_name != full_name:  # a rename missed: `repository` events re-key it
            log.warning("%s is %s on GitHub; the record keeps its name", repo.full_name, full_name)
        session.add(repo)
    recorded = session.exec(
        select(Repository).where(
            Repository.installation_id == inst_id, col(Repository.removed_at).is_(None)
        )
    )
    for repo in list(recorded):
        if repo.id not in seen:
            repo.removed_at = now
            session.add(repo)
            out.repositories_removed.append(repo.full_name)


async def reconcile(app_client: Any, api_for: Any, engine: Engine, clock: Clock) -> Reconciled:
    """Ask GitHub, then write the answer (one transaction), stamped with the time of writing
    (not of asking: an `installation` webhook may be handled meanwhile). A list that cannot
    be read leaves its part of the record untouched; the next run tries again."""
    from bot.github.client import app_installations

    installations = await app_installations(app_client)
    repositories: dict[int, list[dict[str, Any]] | None] = {}
    for data in installations:
        inst_id = data.get("id")
        if not isinstance(inst_id, int) or data.get("suspended_at"):
            continue
        api = api_for(inst_id)
        try:
            repositories[inst_id] = None if api is None else await api.installation_repositories()
        except Exception as exc:  # one installation's failure must not hide the others
            log.warning("could not list the repositories of installation %s: %r", inst_id, exc)
            repositories[inst_id] = None
    with Session(engine) as session:
        result = apply(session, installations, repositories, clock.now())
        session.commit()
    if result:
        log.info("record reconciled with GitHub: %s", vars(result))
    return result
