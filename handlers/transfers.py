"""Follow an issue transferred to another repository, so its wait goes on where it went.

GitHub sends `issues.transferred` in the old repository and `issues.opened` (with
`changes.old_issue`) in the new one, in either order. The old item is then gone (its
`transferred` entry stops its clock); the new one, if the new repository is Veilleur's, gets
the old one's creation time, its timeline and its reminder keys, so the author's wait keeps
counting from the start and nobody is reminded twice. Every copy is idempotent.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.storage.models import ActionLog, Item, Repository, TimelineEntry, TimelineKind

K = TimelineKind
NOT_CARRIED = frozenset({K.OPENED, K.TRANSFERRED, K.DELETED, K.CONVERTED_TO_DISCUSSION})
Ref = tuple[str, int]


def follow(engine: Engine, old: Ref, new: Ref) -> bool:
    """Carry the record of `old` over to `new`; False when there is nothing to carry."""
    with Session(engine) as s:
        source = _item(s, old)
        ours = s.exec(
            select(Repository.id).where(
                Repository.full_name == new[0], col(Repository.removed_at).is_(None)
            )
        ).first()
        if source is None or ours is None:
            return False
        target = _item(s, new)
        if target is None:
            fields = source.model_dump(exclude={"id"})
            fields.update(repo_full_name=new[0], owner=new[0].split("/")[0], number=new[1])
            fields.update(github_id=None, state="open", closed_at=None, closed_by=None)
            target = Item(**fields)
        else:
            target.created_at = min(target.created_at, source.created_at)
            target.author_class = target.author_class or source.author_class
        s.add(target)
        s.commit()
        entries = list(
            s.exec(
                select(TimelineEntry).where(
                    TimelineEntry.repo_full_name == old[0], TimelineEntry.number == old[1]
                )
            )
        )
        old_key = f":{old[0]}#{old[1]}:"
        done = list(s.exec(select(ActionLog).where(col(ActionLog.key).contains(old_key))))
    with Session(engine) as s:
        for e in entries:
            if e.kind in NOT_CARRIED:
                continue
            fields = e.model_dump(exclude={"id"}) | {"repo_full_name": new[0], "number": new[1]}
            s.add(TimelineEntry(**fields))
            try:
                s.commit()
            except IntegrityError:  # carried already
                s.rollback()
        for a in done:
            key = a.key.replace(f":{old[0]}#{old[1]}:", f":{new[0]}#{new[1]}:")
            if s.get(ActionLog, key) is None:
                s.add(ActionLog(key=key, done_at=a.done_at, dry_run=a.dry_run, detail=a.detail))
        s.commit()
    return True


def _item(s: Session, ref: Ref) -> Item | None:
    return s.exec(select(Item).where(Item.repo_full_name == ref[0], Item.number == ref[1])).first()
