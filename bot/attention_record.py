"""Attention figures of a period from the record (the digest and the dashboard).

Loads the organisation's items open during the period and their timeline from a week before
it (so "acted in the previous business day" sees Monday's reminder after Friday's label),
then hands them to `bot.attention.attention_figures`, the function the replay uses too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, case, cast, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.attention import AttentionFigures, attention_figures
from bot.calendar import BusinessCalendar
from bot.replay.history import Entry
from bot.storage.models import Item, TimelineEntry
from bot.storage.models import TimelineKind as K

LOOK_BACK = timedelta(days=7)


@dataclass(frozen=True)
class _Item:
    repo_full_name: str
    number: int
    author_login: str
    author_class: str | None
    created_at: datetime


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def recorded_attention(
    engine: Engine,
    org: str,
    start: datetime,
    end: datetime,
    veilleur_logins: Iterable[str],
    calendar_for: Callable[[str], BusinessCalendar],
    sla_days: Callable[[str], float],
    repos: Sequence[str] | None = None,
) -> AttentionFigures:
    """The figures of [start, end) for `org` (of `repos` only, if given)."""
    since = start - LOOK_BACK
    allowed = None if repos is None else {r.lower() for r in repos}
    with Session(engine) as s:
        q = select(
            col(Item.repo_full_name), col(Item.number), col(Item.author_login),
            col(Item.author_class), col(Item.created_at),
        ).where(
            col(Item.owner) == org,
            col(Item.created_at) < end,
            or_(col(Item.closed_at).is_(None), col(Item.closed_at) >= since),
        )  # fmt: skip
        items = {
            (repo, n): _Item(repo, n, login or "", cls, _utc(created))
            for repo, n, login, cls, created in s.execute(q)
            if allowed is None or repo.lower() in allowed
        }
        timeline: dict[tuple[str, int], list[Entry]] = defaultdict(list)
        rows = s.execute(
            select(
                col(TimelineEntry.repo_full_name), col(TimelineEntry.number),
                col(TimelineEntry.kind), col(TimelineEntry.occurred_at),
                col(TimelineEntry.actor_login), col(TimelineEntry.actor_class),
                col(TimelineEntry.actor_type),
                # only comments' details are read (their body: Veilleur's marker, commands)
                case((col(TimelineEntry.kind) == K.COMMENTED,
                      cast(col(TimelineEntry.detail), String))),
            )
            .where(
                col(TimelineEntry.repo_full_name).startswith(f"{org}/"),
                col(TimelineEntry.occurred_at) >= since,
                col(TimelineEntry.occurred_at) < end,
            )
            .order_by(col(TimelineEntry.occurred_at), col(TimelineEntry.id))
        )  # fmt: skip
        for repo, n, kind, at, login, cls, typ, text in rows:
            if (repo, n) in items:
                detail = json.loads(text) if text else {}
                timeline[(repo, n)].append(Entry(kind, _utc(at), login, cls, detail, typ))
    pairs = [(i, timeline.get(key, [])) for key, i in items.items()]
    return attention_figures(pairs, start, end, veilleur_logins, calendar_for, sla_days)
