"""Reminders that do not nag: the rules a planned reminder must pass before it is sent (pure).

`sla.plan_reminders` says which reminder or escalation an overdue wait calls for; `screen`
then holds it, or narrows who it mentions, so that Veilleur never asks again someone who just
acted (bugbot #904, #2629: asking the day after a person acted is what people call nagging):

1. **Acted recently**: no reminder within one business day after a team member acted on the
   item in any way (a label, an assignment, a review request, a snooze, a comment, even one that
   is not a response).
2. **Acted since the last reminder**: a person who did anything on the item since Veilleur's
   last reminder or escalation is not mentioned again (if nobody is left, nothing is sent).
3. **One open request**: no new reminder or escalation while the previous one is unanswered
   by anyone (no human activity since) and younger than `remind_every_days` business days;
   and at most `max_unanswered_reminders` reminders in a row that nobody answered: then no
   new reminder until someone acts (the escalation still comes).
4. **Working hours**: people are mentioned only inside their own working hours (their
   `people.<login>.timezone`, else the repository's); those outside are named without `@`, and
   if nobody is inside, the reminder waits for a later sweep.

`cap` then keeps at most N reminders per repository and per organisation in one sweep,
longest waits first; the others stay due and come first at the next sweep (never dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from bot.sla.calendar import BusinessCalendar
from bot.sla.rules import TEAM, EntryLike, ReminderHistory, ReminderStep, _is_bot, _utc

ACTED_RECENTLY = "acted_recently"
ACTED_SINCE_REMINDER = "acted_since_reminder"
OPEN_REQUEST = "open_request"
OUTSIDE_HOURS = "outside_hours"
UNANSWERED = "unanswered_reminders"  # `max_unanswered_reminders` in a row: wait for someone
NOBODY = "everyone_away"  # bot/sla/reminder_plan.py: every responsible person is away
QUIET_DAYS = 1.0  # business days after a team action during which nobody is reminded


@dataclass(frozen=True)
class Screened:
    """The step to send (possibly with fewer people mentioned), or why it is held."""

    step: ReminderStep | None
    held: str | None = None


def _human(e: EntryLike, bots: frozenset[str]) -> bool:
    return bool(e.actor_login) and not _is_bot(e, bots)


def last_team_action(
    entries: Iterable[EntryLike], author: str, bots: frozenset[str], now: datetime
) -> datetime | None:
    """The last instant (up to `now`) a team member other than the author did anything."""
    last: datetime | None = None
    for e in entries:
        t = _utc(e.occurred_at)
        if t > now or not _human(e, bots) or e.actor_class not in TEAM:
            continue
        if (e.actor_login or "").lower() == author.lower():
            continue
        last = t if last is None or t > last else last
    return last


def acted_since(entries: Iterable[EntryLike], since: datetime, bots: frozenset[str]) -> set[str]:
    """Lower-cased logins of the people who did anything on the item after `since`."""
    return {
        (e.actor_login or "").lower()
        for e in entries
        if _utc(e.occurred_at) > since and _human(e, bots)
    }


def unanswered_reminders(
    entries: Iterable[EntryLike], history: ReminderHistory, bots: frozenset[str], now: datetime
) -> int:
    """Reminders sent after the last human activity on the item (anyone, the author too)."""
    last: datetime | None = None
    for e in entries:
        t = _utc(e.occurred_at)
        if t <= now and _human(e, bots) and (last is None or t > last):
            last = t
    return sum(1 for t in history.sent_at if last is None or _utc(t) > last)


def last_contact(history: ReminderHistory) -> datetime | None:
    contacts = [*history.sent_at, *([history.escalated_at] if history.escalated_at else [])]
    return max(contacts) if contacts else None


def screen(
    step: ReminderStep,
    *,
    entries: Sequence[EntryLike],
    author: str,
    bots: Iterable[str],
    history: ReminderHistory,
    now: datetime,
    calendar: BusinessCalendar,
    remind_every_days: float,
    in_hours: Callable[[str], bool],
    max_unanswered: int | None = None,
) -> Screened:
    """Apply the rules of the module docstring to one planned step. `in_hours(handle)` says
    whether `handle` (without `@`) is inside their working hours at `now`."""
    now = _utc(now)
    named = bool(step.mention or step.listed_only)  # no one at all: no maintainer configured
    lowered = frozenset(b.lower() for b in bots)
    team_at = last_team_action(entries, author, lowered, now)
    if team_at is not None and calendar.business_days_between(team_at, now) < QUIET_DAYS:
        return Screened(None, ACTED_RECENTLY)
    if (
        step.stage == "reminder"
        and max_unanswered is not None
        and unanswered_reminders(entries, history, lowered, now) >= max_unanswered
    ):
        return Screened(None, UNANSWERED)
    contact = last_contact(history)
    mention, listed = list(step.mention), list(step.listed_only)
    if contact is not None:
        acted = acted_since(entries, contact, lowered)
        if not acted and calendar.business_days_between(contact, now) < remind_every_days:
            return Screened(None, OPEN_REQUEST)
        mention = [p for p in mention if p.lower() not in acted]
        listed = [p for p in listed if p.lower() not in acted]
        if named and not mention and not listed:
            return Screened(None, ACTED_SINCE_REMINDER)
    awake = [p for p in mention if in_hours(p)]
    if mention and not awake:
        return Screened(None, OUTSIDE_HOURS)
    if not mention and not calendar.is_working_time(now):  # nobody pinged: the repository's hours
        return Screened(None, OUTSIDE_HOURS)
    asleep = [p for p in mention if p not in awake]
    return Screened(replace(step, mention=tuple(awake), listed_only=(*listed, *asleep)))


Candidate = TypeVar("Candidate")


def cap(
    candidates: Sequence[Candidate],
    *,
    repo_of: Callable[[Candidate], str],
    wait_of: Callable[[Candidate], float],
    ref_of: Callable[[Candidate], str],
    per_repo: Mapping[str, int],
    per_org: int,
) -> tuple[list[Candidate], list[Candidate]]:
    """(sent, carried): longest waits first, at most `per_repo[repo]` per repository and
    `per_org` in all. What is carried stays due, so the next sweep plans it again."""
    ordered = sorted(candidates, key=lambda c: (-wait_of(c), ref_of(c)))
    sent: list[Candidate] = []
    carried: list[Candidate] = []
    used: dict[str, int] = {}
    for c in ordered:
        repo = repo_of(c)
        if len(sent) < per_org and used.get(repo, 0) < per_repo.get(repo, per_org):
            used[repo] = used.get(repo, 0) + 1
            sent.append(c)
        else:
            carried.append(c)
    return sent, carried
