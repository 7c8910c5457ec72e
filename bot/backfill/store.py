"""Writing imported history into Veilleur's record, idempotently, one page per transaction;
and the per-(repository, kind) cursors that make an import resumable.

Items: a snapshot older than the stored one (a webhook recorded a later state meanwhile) only
fills what is missing. Timeline entries: a natural key already present adds nothing, nor does
an entry of the same kind and subject within `SAME_FACT` of an existing one for the keys that
carry a time (the webhook's time is the item's `updated_at`; GitHub's event `createdAt` is the
same instant, the tolerance only absorbs a second's skew).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.record.people import is_bot_account
from bot.record.timeline import Entry, Recorded
from bot.storage.models import BackfillCursor, Item, TimelineEntry, TimelineKind

log = logging.getLogger(__name__)
K = TimelineKind
SAME_FACT = timedelta(seconds=2)
TIMED_KINDS = {
    K.CLOSED, K.MERGED, K.REOPENED, K.LABELED, K.UNLABELED, K.ASSIGNED, K.UNASSIGNED,
    K.REVIEW_REQUESTED, K.READY_FOR_REVIEW, K.CONVERTED_TO_DRAFT,
}  # fmt: skip
_SUBJECT = ("label", "assignee", "reviewer")


@dataclass
class Written:
    items_new: int = 0
    entries_new: int = 0


def _subject(detail: dict[str, Any] | None) -> str:
    detail = detail or {}
    return next((str(detail[k]) for k in _SUBJECT if k in detail), "")


def _merge_item(item: Item, fields: dict[str, Any]) -> None:
    """The stored item takes the imported snapshot when it is at least as recent."""
    newer = item.updated_at is None or (
        fields.get("updated_at") is not None and fields["updated_at"] >= item.updated_at
    )
    for key, value in fields.items():
        current = getattr(item, key, None)
        if newer and (value is not None or key == "closed_at"):
            setattr(item, key, value)
        elif current in (None, "") and value not in (None, ""):
            setattr(item, key, value)


def _row(repo: str, number: int, e: Entry, classes: dict[str, str | None]) -> dict[str, Any]:
    """The `timeline` row of an entry, as `records.write` would fill it."""
    login = e.actor.get("login") if e.actor else None
    return {
        "repo_full_name": repo,
        "number": number,
        "occurred_at": e.occurred_at,
        "kind": e.kind,
        "actor_login": login,
        "actor_type": "Bot" if is_bot_account(e.actor) else (e.actor or {}).get("type"),
        "actor_class": classes.get(login or ""),
        "source_key": e.source_key,
        "detail": e.detail,
    }


def write_page(
    engine: Engine, repo: str, records: list[Recorded], classes: dict[str, str | None]
) -> Written:
    """One transaction for a page of items; falls back to entry by entry if a concurrent
    writer (a webhook in another process) recorded one of the same facts meanwhile."""
    if not records:
        return Written()
    numbers = [r.item["number"] for r in records]
    out = Written()
    with Session(engine) as s:
        stored = {
            i.number: i
            for i in s.exec(
                select(Item).where(Item.repo_full_name == repo, Item.number.in_(numbers))  # type: ignore[attr-defined]
            )
        }
        t = TimelineEntry.__table__.c  # type: ignore[attr-defined]
        columns = sa_select(t.number, t.source_key, t.kind, t.occurred_at, t.detail)
        in_page = t.number.in_(numbers)
        seen = s.execute(columns.where(t.repo_full_name == repo, in_page)).all()
        keys = {(n, key) for n, key, _, _, _ in seen}
        timed: dict[tuple[int, str, str], list[datetime]] = {}
        for n, _, kind, at, detail in seen:
            if kind in TIMED_KINDS:
                timed.setdefault((n, kind, _subject(detail)), []).append(at)
        fresh: list[dict[str, Any]] = []
        for rec in records:
            fields = dict(rec.item)
            number = fields["number"]
            item = stored.get(number)
            if item is None:
                item = Item(**fields)
                out.items_new += 1
            else:
                _merge_item(item, fields)
            author_class = classes.get(item.author_login)
            if author_class:
                item.author_class = author_class
            s.add(item)
            for e in rec.entries:
                if (number, e.source_key) in keys:
                    continue
                near = timed.get((number, e.kind, _subject(e.detail)), [])
                if e.kind in TIMED_KINDS and any(
                    abs(at - e.occurred_at) <= SAME_FACT for at in near
                ):
                    continue
                keys.add((number, e.source_key))
                fresh.append(_row(repo, number, e, classes))
        if fresh:  # one multi-row INSERT: building ORM objects would take most of the time
            s.execute(insert(TimelineEntry), fresh)
        try:
            s.commit()
            out.entries_new = len(fresh)
            return out
        except IntegrityError:
            s.rollback()
    out.entries_new = _write_one_by_one(engine, repo, records, classes)
    return out


def _write_one_by_one(
    engine: Engine, repo: str, records: list[Recorded], classes: dict[str, str | None]
) -> int:
    added = 0
    with Session(engine) as s:
        for rec in records:
            number = rec.item["number"]
            item = s.exec(
                select(Item).where(Item.repo_full_name == repo, Item.number == number)
            ).first()
            if item is None:
                item = Item(**rec.item)
            else:
                _merge_item(item, dict(rec.item))
            s.add(item)
            s.commit()
            for e in rec.entries:
                s.add(TimelineEntry(**_row(repo, number, e, classes)))
                try:
                    s.commit()
                    added += 1
                except IntegrityError:
                    s.rollback()
    return added


# -- cursors -----------------------------------------------------------------------------------
def load_cursors(engine: Engine, repo: str) -> dict[str, BackfillCursor]:
    with Session(engine) as s:
        rows = s.exec(select(BackfillCursor).where(BackfillCursor.repo_full_name == repo)).all()
        for row in rows:
            s.expunge(row)
        return {row.kind: row for row in rows}


def save_cursors(engine: Engine, rows: Iterable[BackfillCursor]) -> None:
    with Session(engine) as s:
        for row in rows:
            s.merge(row)
        s.commit()


def fresh_cursor(repo: str, kind: str, since: datetime | None, now: datetime) -> BackfillCursor:
    return BackfillCursor(
        repo_full_name=repo, kind=kind, cursor=None, since=since, started_at=now,
        finished_at=None, items=0, requests=0,
    )  # fmt: skip
