"""Attention figures: how much Veilleur speaks, and to whom (shared by replay, digest, dashboard).

Computed from timelines alone (Veilleur's comments are on them, recorded from webhooks or
produced by the replay), so the live record and a replay are measured the same way.

Definitions (README, "Attention"):
- **comments**: `commented` entries in the period, by anyone; **bot comments**: Veilleur's
  (its login, or a body carrying its hidden marker). Shares are over all comments.
- **reminders** and **escalations**: Veilleur's comments marked `reminder` / `escalation`;
  daily mode's lists (marked `daily`, in the waiting-list issues) count as reminders.
- **mentions**: `@handle` in Veilleur's comments, counted per person and ISO week (team
  handles, `@org/team`, are counted apart: a team is not a person).
- **reminded after action**: a reminder or escalation posted less than one business day
  (the repository's calendar) after a team member (not a bot, not the author) acted on the
  item in any way; **to a recent actor** when that person is among those it @-mentions.
- **first response** of outside contributions opened in the period, in business days
  (`bot.sla.rules.is_response`), and what the reminders asked before it came.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any

from bot.sla.calendar import BusinessCalendar
from bot.sla.rules import OUTSIDE_AUTHORS, TEAM, is_response
from bot.storage.models import TimelineKind as K

_MARK = "<!-- veilleur:"
_MENTION = re.compile(r"(?<![\w/@.])@([A-Za-z0-9][A-Za-z0-9-]{0,38}(?:/[A-Za-z0-9._-]{1,100})?)")
_HIDDEN = re.compile(r"<!--[^>]{0,400}-->")  # bounded: Veilleur's markers are short


@dataclass
class AttentionFigures:
    comments: int = 0
    bot_comments: int = 0
    reminders: int = 0
    escalations: int = 0
    bot_comment_share: float | None = None
    reminder_share: float | None = None  # reminders and escalations over all comments
    items: int = 0  # outside items open at some point of the period
    reminded_items: int = 0
    reminders_per_item: float | None = None  # (reminders + escalations) / items
    max_reminders_on_an_item: int = 0
    mentions_max_per_person_week: int = 0
    mentions_p90_per_person_week: float | None = None
    most_mentioned: str | None = None
    team_mentions_max_per_week: int = 0  # `@org/team` handles: teams, not persons
    reminded_after_action: int = 0  # reminders less than a business day after a team action
    reminders_to_recent_actor: int = 0
    first_response: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def targets(self, max_mentions: int = 5) -> dict[str, bool]:
        """The README's targets, met or not (None shares count as met: nothing was said)."""
        return {
            "reminders_and_escalations_at_most_10_percent": (self.reminder_share or 0) <= 0.10,
            "bot_comments_at_most_25_percent": (self.bot_comment_share or 0) <= 0.25,
            f"nobody_mentioned_more_than_{max_mentions}_a_week": (
                self.mentions_max_per_person_week <= max_mentions
            ),
            "no_reminder_to_a_recent_actor": self.reminders_to_recent_actor == 0,
        }


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (`q` in 0..1) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(q * 100) * len(ordered) // 100))  # ceil(q * n), at least 1
    return float(ordered[min(rank, len(ordered)) - 1])


def veilleur_kind(entry: Any, logins: frozenset[str]) -> str | None:
    """`reminder`, `escalation`, another marker kind, or None if not Veilleur's comment."""
    if entry.kind != K.COMMENTED:
        return None
    body = str((entry.detail or {}).get("body") or "")
    ours = (entry.actor_login or "").lower() in logins
    if body.startswith(_MARK):
        return body[len(_MARK) :].split(":", 1)[0] or "other"
    return "other" if ours else None


def mentions_in(body: str) -> list[str]:
    return [m.lower() for m in _MENTION.findall(_HIDDEN.sub("", body))]


def _team_actor(e: Any, author: str, bots: frozenset[str]) -> str | None:
    login = (e.actor_login or "").lower()
    if not login or login == author or login in bots or login.endswith("[bot]"):
        return None
    if e.actor_class not in TEAM or e.actor_type == "Bot":
        return None
    return login


def attention_figures(
    items: Iterable[tuple[Any, Sequence[Any]]],
    start: datetime,
    end: datetime,
    veilleur_logins: Iterable[str],
    calendar_for: Callable[[str], BusinessCalendar],
    first_response_days_for: Callable[[str], float] = lambda _repo: 3.0,
    outside_items: int | None = None,
) -> AttentionFigures:
    """Figures of the period [start, end) over `items`: (item, its timeline) pairs; an item
    has `author_login`, `author_class`, `created_at` and `repo_full_name` (or `repo`).
    `outside_items`: the number of outside items open in the period, when `items` holds
    only those with entries in it (the record's case); else counted from `items`."""
    start, end = _utc(start), _utc(end)
    logins = frozenset(x.lower() for x in veilleur_logins if x)
    f = AttentionFigures()
    per_week: dict[tuple[str, str], int] = defaultdict(int)
    team_week: dict[tuple[str, str], int] = defaultdict(int)
    ttfr: list[float] = []
    late = reminded_late = unanswered = 0
    asked_before: list[float] = []
    for item, entries in items:
        repo = getattr(item, "repo_full_name", None) or item.repo
        author = (item.author_login or "").lower()
        outside = item.author_class in OUTSIDE_AUTHORS
        cal = calendar_for(repo)
        created = _utc(item.created_at)
        first_resp = next(
            (_utc(e.occurred_at) for e in entries if is_response(e, author, logins)), None
        )
        closed = max(
            (_utc(e.occurred_at) for e in entries if e.kind in (K.CLOSED, K.MERGED)), default=None
        )
        if outside and created < end and (closed is None or closed >= start):
            f.items += 1
        on_item = 0
        reminders_at: list[datetime] = []
        acted: list[tuple[datetime, str]] = []
        for e in entries:
            at = _utc(e.occurred_at)
            who = _team_actor(e, author, logins)
            if who is not None:
                acted.append((at, who))
            if not (start <= at < end) or e.kind != K.COMMENTED:
                continue
            f.comments += 1
            kind = veilleur_kind(e, logins)
            if kind is None:
                continue
            f.bot_comments += 1
            body = str((e.detail or {}).get("body") or "")
            iso = at.isocalendar()
            week = f"{iso[0]:04d}-W{iso[1]:02d}"
            named = mentions_in(body)
            for handle in named:
                (team_week if "/" in handle else per_week)[(handle, week)] += 1
            if kind == "daily":  # a daily list (waiting-list issue): a reminder, not on an item
                f.reminders += 1
                continue
            if kind not in ("reminder", "escalation"):
                continue
            f.reminders += kind == "reminder"
            f.escalations += kind == "escalation"
            on_item += 1
            reminders_at.append(at)
            recent = {p for t, p in acted if t < at and cal.business_days_between(t, at) < 1}
            f.reminded_after_action += bool(recent)
            f.reminders_to_recent_actor += bool(recent & set(named))
        if on_item:
            f.reminded_items += 1
            f.max_reminders_on_an_item = max(f.max_reminders_on_an_item, on_item)
        if not (outside and start <= created < end):
            continue
        due = first_response_days_for(repo)
        waited = cal.business_days_between(created, first_resp or end)
        if first_resp is None:
            unanswered += 1
        else:
            ttfr.append(waited)
        if waited > due:
            late += 1
            before = [t for t in reminders_at if first_resp is None or t < first_resp]
            if before:
                reminded_late += 1
                if first_resp is not None:
                    asked_before.append(cal.business_days_between(before[0], first_resp))
    if outside_items is not None:
        f.items = outside_items
    shown = f.comments or None
    f.bot_comment_share = None if shown is None else round(f.bot_comments / shown, 4)
    f.reminder_share = None if shown is None else round((f.reminders + f.escalations) / shown, 4)
    f.reminders_per_item = round((f.reminders + f.escalations) / f.items, 3) if f.items else None
    f.team_mentions_max_per_week = max(team_week.values(), default=0)
    if per_week:
        (person, _), top = max(per_week.items(), key=lambda kv: (kv[1], kv[0]))
        f.mentions_max_per_person_week, f.most_mentioned = top, person
        f.mentions_p90_per_person_week = percentile(list(per_week.values()), 0.9)
    f.first_response = {
        "items": len(ttfr) + unanswered,
        "answered": len(ttfr),
        "unanswered": unanswered,
        "median_business_days": round(median(ttfr), 2) if ttfr else None,
        "p90_business_days": percentile([round(x, 2) for x in ttfr], 0.9),
        "later_than_sla": late,
        "later_than_sla_with_a_reminder": reminded_late,
        # how long before the actual answer the first reminder asked for one (business days)
        "reminder_ahead_median_business_days": (
            round(median(asked_before), 2) if asked_before else None
        ),
    }
    return f


def markdown_lines(f: AttentionFigures, max_mentions: int = 5) -> list[str]:
    """The figures as Markdown list lines (digest and replay); values only, no user text
    except logins, which are escaped by the caller's renderer when it prints them."""

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x * 100:.1f} %"

    fr = f.first_response
    return [
        f"- Veilleur's comments: {f.bot_comments} of {f.comments} ({pct(f.bot_comment_share)})",
        f"- Reminders and escalations: {f.reminders} + {f.escalations} "
        f"({pct(f.reminder_share)} of all comments; {f.reminders_per_item or 0} per outside item, "
        f"at most {f.max_reminders_on_an_item} on one)",
        f"- Mentions per person and week: max {f.mentions_max_per_person_week}, "
        f"p90 {f.mentions_p90_per_person_week or 0} (target: at most {max_mentions})",
        f"- Reminders less than a business day after a maintainer acted: "
        f"{f.reminded_after_action} ({f.reminders_to_recent_actor} to that person)",
        f"- First response to outside contributions: {fr.get('answered', 0)} answered, "
        f"{fr.get('unanswered', 0)} unanswered, median {fr.get('median_business_days')} "
        f"business days; {fr.get('later_than_sla', 0)} later than the SLA, of which "
        f"{fr.get('later_than_sla_with_a_reminder', 0)} with a reminder asking first",
    ]
