"""Attention figures of a period from the record (the digest and the dashboard).

Loads the organisation's items open during the period and their timeline from a week before
it (so "acted in the previous business day" sees Monday's reminder after Friday's label),
then hands them to `bot.digest.attention.attention_figures`, the function the replay uses too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.digest.attention import AttentionFigures, attention_figures
from bot.digest.ospo import Owners, owned
from bot.record.entry import Entry
from bot.sla.calendar import BusinessCalendar
from bot.sla.rules import OUTSIDE_AUTHORS, TEAM
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
    org: Owners,
    start: datetime,
    end: datetime,
    veilleur_logins: Iterable[str],
    calendar_for: Callable[[str], BusinessCalendar],
    sla_days: Callable[[str], float],
    repos: Sequence[str] | None = None,
) -> AttentionFigures:
    """The figures of [start, end) for `org`, or an OSPO's owners (of `repos` only, if given)."""

    since = start - LOOK_BACK
    allowed = None if repos is None else {r.lower() for r in repos}
    T, It = TimelineEntry, Item  # noqa: N806
    with Session(engine) as s:
        # Outside items open at some point of the period: counted in SQL (most say nothing).
        where = (
            owned(col(It.owner), org),
            col(It.author_class).in_(sorted(OUTSIDE_AUTHORS)),
            col(It.created_at) < end,
            or_(col(It.closed_at).is_(None), col(It.closed_at) >= start),
        )
        if allowed is None:
            outside = int(s.execute(select(func.count()).where(*where)).scalar() or 0)
        else:
            repos_of = s.execute(select(col(It.repo_full_name)).where(*where))
            outside = sum(1 for (repo,) in repos_of if repo.lower() in allowed)
        # The period's comments, and what the team did in it and in the week before (the
        # "acted in the previous business day" look-back), with their item.
        joined = col(T.repo_full_name) == col(It.repo_full_name)
        rows = s.execute(
            select(
                col(T.repo_full_name), col(T.number), col(T.kind), col(T.occurred_at),
                col(T.actor_login), col(T.actor_class), col(T.actor_type),
                # only comments' details are read (their body: Veilleur's marker, commands)
                case((col(T.kind) == K.COMMENTED, cast(col(T.detail), String))),
                col(It.author_login), col(It.author_class), col(It.created_at),
            )
            .join(It, and_(joined, col(T.number) == col(It.number)))
            .where(
                owned(col(It.owner), org),
                col(T.occurred_at) >= since,
                col(T.occurred_at) < end,
                # comments of the period, and what the team did (responses, actions)
                or_(
                    and_(col(T.occurred_at) >= start, col(T.kind) == K.COMMENTED),
                    col(T.actor_class).in_(sorted(TEAM)),
                ),
            )
            .order_by(col(T.occurred_at), col(T.id))
        )  # fmt: skip
        items: dict[tuple[str, int], _Item] = {}
        timeline: dict[tuple[str, int], list[Entry]] = defaultdict(list)
        for repo, n, kind, at, login, cls, typ, text, author, author_class, created in rows:
            key = (repo, n)
            if key not in items:
                if allowed is not None and repo.lower() not in allowed:
                    continue
                items[key] = _Item(repo, n, author or "", author_class, _utc(created))
            detail = json.loads(text) if text else {}
            timeline[key].append(Entry(kind, _utc(at), login, cls, detail, typ))
    pairs = [(i, timeline[key]) for key, i in items.items()]
    return attention_figures(
        pairs, start, end, veilleur_logins, calendar_for, sla_days, outside_items=outside
    )
