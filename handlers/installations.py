"""Keep the installations and repositories tables current."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.dispatch.context import Context, Event
from bot.storage.models import Installation, Repository

NAME = "installations"
EVENTS = {("installation", None), ("installation_repositories", None)}
SEES_OWN_EVENTS = True


def _parse_ts(value: Any) -> datetime | None:
    if isinstance(value, int):
        from datetime import UTC

        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def apply_event(session: Session, event: Event, now: datetime) -> None:
    """Pure-ish step: the rows this event implies, written through `session`."""
    inst_data = event.payload.get("installation") or {}
    inst_id = inst_data.get("id")
    if not isinstance(inst_id, int):
        return
    account = inst_data.get("account") or {}
    inst = session.get(Installation, inst_id) or Installation(
        id=inst_id,
        account_login=account.get("login", ""),
        created_at=_parse_ts(inst_data.get("created_at")) or now,
    )
    inst.account_login = account.get("login") or inst.account_login
    inst.account_type = account.get("type") or inst.account_type
    inst.repository_selection = inst_data.get("repository_selection") or inst.repository_selection
    action = event.action
    if event.name == "installation":
        if action == "deleted":
            inst.deleted_at = now
        elif action == "suspend":
            inst.suspended_at = _parse_ts(inst_data.get("suspended_at")) or now
        elif action == "unsuspend":
            inst.suspended_at = None
        elif action == "created":
            inst.deleted_at = None
        session.add(inst)
        for repo in event.payload.get("repositories") or []:
            _upsert_repo(
                session, repo, inst_id, inst.account_login, now, removed=action == "deleted"
            )
        return
    session.add(inst)
    for repo in event.payload.get("repositories_added") or []:
        _upsert_repo(session, repo, inst_id, inst.account_login, now, removed=False)
    for repo in event.payload.get("repositories_removed") or []:
        _upsert_repo(session, repo, inst_id, inst.account_login, now, removed=True)


def _upsert_repo(
    session: Session,
    data: dict[str, Any],
    inst_id: int,
    owner: str,
    now: datetime,
    *,
    removed: bool,
) -> None:
    repo = session.get(Repository, data["id"])
    full_name = data.get("full_name") or f"{owner}/{data.get('name')}"
    if repo is None:
        repo = Repository(
            id=data["id"], full_name=full_name, owner=full_name.split("/")[0], added_at=now
        )
    repo.installation_id = inst_id
    repo.full_name = full_name
    repo.private = bool(data.get("private", repo.private))
    repo.removed_at = now if removed else None
    session.add(repo)


async def handle(event: Event, ctx: Context) -> None:
    with Session(ctx.engine) as session:
        apply_event(session, event, ctx.now())
        session.commit()
