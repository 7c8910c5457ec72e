"""One item's story as Veilleur recorded it: its timeline, which entry counted as the first
response (and why each other entry did not), the SLA clock now, and what Veilleur did on it.

The answer to "why did the bot…?" and to disputes about what counts as a response: the same
rules as `bot.sla.rules` (`is_response`), with the reason spelled out for every entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.sla import rules as sla
from bot.sla.calendar import BusinessCalendar
from bot.storage.models import ActionLog, Item, TimelineEntry
from bot.storage.models import TimelineKind as K

RESPONSE_KINDS = (K.COMMENTED, K.REVIEWED, K.CLOSED, K.MERGED)
VEILLEUR_KINDS = (K.SNOOZED, K.WAITING_ON)


@dataclass(frozen=True)
class Step:
    """One timeline entry and how the first-response rule read it."""

    at: datetime
    kind: str
    actor: str
    actor_class: str
    verdict: str  # first_response | response | not_response_kind | not_team | author | bot
    #              | command_only | after_first | veilleur


@dataclass(frozen=True)
class FirstResponse:
    actor: str
    actor_class: str
    at: datetime
    business_hours: float
    business_days: float


@dataclass(frozen=True)
class Deed:
    """Something Veilleur did on the item (action log), and the rule that made it."""

    at: datetime
    what: str  # the action's own description
    why: str  # reminder | escalation | email | nudge | close | close_comment | other
    number: int | None = None  # the reminder's number


@dataclass(frozen=True)
class Story:
    item: Item
    steps: list[Step]
    first: FirstResponse | None
    waiting_on: str | None  # maintainer | author | None (not waiting), now
    business_days_waiting: float
    overdue: bool
    deeds: list[Deed]


def verdict(e: Any, author: str, bots: frozenset[str]) -> str:
    """Why `e` is or is not a response to an item by `author` (`bot.sla.rules.is_response`)."""
    if sla.is_response(e, author, bots):
        return "response"
    if e.kind in VEILLEUR_KINDS:
        return "veilleur"
    if e.kind not in RESPONSE_KINDS:
        return "not_response_kind"
    if sla._is_bot(e, bots):  # noqa: SLF001 (the very rule is_response applies)
        return "bot"
    if e.actor_class not in sla.TEAM:
        return "not_team"
    if author and (e.actor_login or "").lower() == author.lower():
        return "author"
    return "command_only"


def _deed(key: str, ref: str, at: datetime, detail: str | None) -> Deed:
    tail = key.split(ref, 1)[-1].strip(":").split(":")
    why, number = "unknown", None
    if "reminder" in tail:
        why = "reminder"
        last = tail[-1]
        number = int(last) if last.isdigit() else None
    elif "email" in tail:
        why = "email"
    elif "escalation" in tail:
        why = "escalation"
    elif tail and tail[-1] in ("nudge", "close", "close-comment"):
        why = tail[-1].replace("-", "_")
    return Deed(at, detail or key, why, number)


def load_story(
    engine: Engine,
    repo: str,
    number: int,
    *,
    now: datetime,
    calendar: BusinessCalendar,
    sla_cfg: Any,
    bots: frozenset[str] = frozenset(),
) -> Story | None:
    """The story of `repo#number` (`repo` as spelled in the record); None if not recorded."""
    with Session(engine) as s:
        item = s.exec(
            select(Item).where(Item.repo_full_name == repo, Item.number == number)
        ).first()
        if item is None:
            return None
        entries = list(
            s.exec(
                select(TimelineEntry)
                .where(TimelineEntry.repo_full_name == repo, TimelineEntry.number == number)
                .order_by(TimelineEntry.occurred_at, TimelineEntry.id)  # type: ignore[arg-type]
            ).all()
        )
        ref = f"{repo}#{number}"
        deeds = [
            _deed(row.key, ref, row.done_at, row.detail)
            for prefix in (f"sla:{ref}:", f"stale:{ref}:")
            for row in s.exec(
                select(ActionLog).where(
                    ActionLog.key >= prefix,
                    ActionLog.key < prefix[:-1] + ";",
                    ActionLog.dry_run == False,  # noqa: E712
                )
            ).all()
        ]
    deeds.sort(key=lambda d: d.at)
    bots = frozenset(b.lower() for b in bots)
    steps: list[Step] = []
    first: FirstResponse | None = None
    for e in entries:
        if e.kind in (K.OPENED,):
            continue
        v = verdict(e, item.author_login, bots)
        if v == "response":
            if first is None:
                v = "first_response"
                first = FirstResponse(
                    e.actor_login or "",
                    e.actor_class or "",
                    e.occurred_at,
                    calendar.working_hours_between(item.created_at, e.occurred_at),
                    calendar.business_days_between(item.created_at, e.occurred_at),
                )
            else:
                v = "after_first"
        steps.append(Step(e.occurred_at, e.kind, e.actor_login or "", e.actor_class or "", v))
    waiting_on, days, overdue = sla.waiting_clock(item, entries, now, calendar, bots, sla_cfg)
    return Story(item, steps, first, waiting_on, round(days, 2), overdue, deeds)
