"""Move a repository's record to its new name after a rename or a transfer, on either forge
(GitHub's `repository.renamed`/`transferred`, handlers/repositories.py; a GitLab project seen
under a new path, bot/gitlab/projects.py), so its history, waits and done effects follow it."""

from __future__ import annotations

from sqlalchemy import Table, and_, delete, exists, func, update
from sqlmodel import Session, col

from bot.forge.names import owner_of
from bot.storage.models import (
    ActionLog,
    BackfillCursor,
    ConfigRecord,
    Delivery,
    Item,
    TimelineEntry,
)


def rekey(session: Session, old: str, new: str) -> None:
    """Move the record of `old` to `new`. A row that already exists under the new name (an
    event processed before the rename's) wins; the old row then stays where it was."""
    if old == new or not old:
        return
    owner = owner_of(new)
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
