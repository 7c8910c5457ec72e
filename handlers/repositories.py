"""Keep each repository's row current from `repository` events.

Visibility matters most: the anonymous dashboard (`VEILLEUR_PUBLIC_DASHBOARD`) shows public
repositories only, and reads `Repository.private` from this record. A rename or a transfer
re-keys the record of the repository's items, so its history stays with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, and_, delete, exists, func, update
from sqlmodel import Session, col

from bot.dispatch.context import Context, Event
from bot.storage.models import (
    ActionLog,
    BackfillCursor,
    ConfigRecord,
    Delivery,
    Item,
    Repository,
    TimelineEntry,
)

NAME = "repositories"
EVENTS = {("repository", None)}
SEES_OWN_EVENTS = True


@dataclass(frozen=True)
class RepoChange:
    """What a `repository` event says about one repository, as it is now."""

    repo_id: int
    full_name: str
    private: bool | None
    default_branch: str | None
    deleted: bool


def parse(event: Event) -> RepoChange | None:
    """Pure step: the repository's state after this event."""
    repo = event.payload.get("repository")
    if not isinstance(repo, dict) or not isinstance(repo.get("id"), int):
        return None
    full_name = repo.get("full_name")
    if not isinstance(full_name, str) or "/" not in full_name:
        return None
    private = repo.get("private")
    branch = repo.get("default_branch")
    return RepoChange(
        repo_id=repo["id"],
        full_name=full_name,
        private=private if isinstance(private, bool) else None,
        default_branch=branch if isinstance(branch, str) and branch else None,
        deleted=event.action == "deleted",
    )


def apply(session: Session, change: RepoChange, now: datetime) -> None:
    """Update the row of a repository Veilleur knows (installation events add them)."""
    repo = session.get(Repository, change.repo_id)
    if repo is None:
        return
    if change.private is not None:
        repo.private = change.private
    if change.default_branch:
        repo.default_branch = change.default_branch
    if change.deleted:
        repo.removed_at = now
    if repo.full_name != change.full_name:  # renamed, or transferred to another owner
        rekey(session, repo.full_name, change.full_name)
        repo.full_name = change.full_name
        repo.owner = change.full_name.split("/")[0]
    session.add(repo)


def rekey(session: Session, old: str, new: str) -> None:
    """Move the record of `old` to `new`. A row that already exists under the new name (an
    event processed before the rename's) wins; the old row then stays where it was."""
    owner = new.split("/")[0]
    _move(session, Item.__table__, old, new, ("number",), owner=owner)  # type: ignore[attr-defined]
    _move(session, TimelineEntry.__table__, old, new, ("number", "source_key"))  # type: ignore[attr-defined]
    _move(session, BackfillCursor.__table__, old, new, ("kind",))  # type: ignore[attr-defined]
    # Keys of effects already carried out ("welcome:owner/repo:...", "sla:owner/repo#12:..."):
    # moved too, so a rename does not welcome or remind anyone twice.
    done = ActionLog.__table__  # type: ignore[attr-defined]
    other_done = done.alias("other")
    for before, after in ((f":{old}:", f":{new}:"), (f":{old}#", f":{new}#")):
        moved = func.replace(done.c.key, before, after)
        session.execute(
            update(done)
            .where(done.c.key.contains(before, autoescape=True))
            .where(~exists().where(other_done.c.key == moved))
            .values(key=moved)
        )
    # Deliveries keep their order per item under the new name; the config is fetched again.
    session.execute(
        update(Delivery).where(col(Delivery.repo_full_name) == old).values(repo_full_name=new)
    )
    session.execute(delete(ConfigRecord).where(col(ConfigRecord.repo_full_name) == old))


def _move(
    session: Session, table: Table, old: str, new: str, unique: tuple[str, ...], **also: str
) -> None:
    """Rows of `old` to `new`, but where a row with the same `unique` columns is there."""
    other = table.alias("other")
    clash = and_(other.c.repo_full_name == new, *(other.c[c] == table.c[c] for c in unique))
    session.execute(
        update(table)
        .where(table.c.repo_full_name == old)
        .where(~exists().where(clash))
        .values(repo_full_name=new, **also)
    )


async def handle(event: Event, ctx: Context) -> None:
    change = parse(event)
    if change is None:
        return
    with Session(ctx.engine) as session:
        apply(session, change, ctx.now())
        session.commit()
