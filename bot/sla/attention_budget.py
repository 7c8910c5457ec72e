"""The attention budget: how much Veilleur may say, checked before each reminder (pure).

- `attention.max_bot_comment_share` (default 0.25): bots' comments as a share of all comments
  of the repository over the last `SHARE_WINDOW_DAYS` days. When one more reminder comment
  would pass it, the repository switches to daily reminders for this sweep (one list a day per
  person instead of a comment per item). It applies once the window holds
  `SHARE_MIN_COMMENTS` comments.
- `attention.max_mentions_per_person_per_week`: Veilleur's mentions of one person (teams are
  not people) over the last 7 days. A person at the budget is named without `@`; a reminder
  left with nobody to mention is held.

Each decision is a `BudgetDecision`, kept in `action_log` under `attention:` keys so the digest
can say what was switched or held, and why (`decision_key` / `parse_decision`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from bot.sla.rules import ReminderStep, _is_bot, _utc
from bot.storage.models import TimelineKind

SHARE_WINDOW_DAYS = 28
# Below this many comments in the window, a share says nothing (one welcome on a new
# repository is 100 %): the share budget is not applied.
SHARE_MIN_COMMENTS = 20
SHARE = "max_bot_comment_share"
MENTIONS = "max_mentions_per_person_per_week"
SWITCHED_TO_DAILY, HELD, NOT_MENTIONED = "switched_to_daily", "held", "named_without_mention"


@dataclass(frozen=True)
class BudgetDecision:
    repo: str
    day: str  # YYYY-MM-DD, the sweep's day in the repository's time zone
    rule: str  # SHARE | MENTIONS
    outcome: str  # SWITCHED_TO_DAILY | HELD | NOT_MENTIONED
    value: float  # where the figure would be after the action
    limit: float
    item: str = ""  # "owner/repo#12" when the decision is about one item
    person: str = ""


def decision_key(d: BudgetDecision) -> str:
    """One record per repository, day, rule, outcome, item and person (a re-sweep rewrites it)."""
    return f"attention:{d.repo}:{d.day}:{d.rule}:{d.outcome}:{d.item}:{d.person}"[:300]


def parse_decision(detail: str | None) -> BudgetDecision | None:
    try:
        return BudgetDecision(**json.loads(detail or ""))
    except (ValueError, TypeError):
        return None


def encode(d: BudgetDecision) -> str:
    return json.dumps(asdict(d), sort_keys=True)


@dataclass(frozen=True)
class CommentCounts:
    bot: int
    total: int

    def share_after(self, extra_bot: int) -> float:
        total = self.total + extra_bot
        return (self.bot + extra_bot) / total if total else 0.0


def comment_counts(
    entries: Iterable[Any], bots: Iterable[str], since: datetime, now: datetime
) -> CommentCounts:
    """Comments (and reviews with a body) of a repository's timeline in [since, now]."""
    lowered = frozenset(b.lower() for b in bots)
    bot = total = 0
    for e in entries:
        if e.kind != TimelineKind.COMMENTED or not since <= _utc(e.occurred_at) <= now:
            continue
        total += 1
        bot += _is_bot(e, lowered)
    return CommentCounts(bot, total)


def repo_mode(
    configured: str,
    counts: CommentCounts,
    planned_comments: int,
    attention: Any,
    repo: str,
    day: str,
    daily_comments: int | None = None,
) -> tuple[str, BudgetDecision | None]:
    """`daily` when posting `planned_comments` reminder comments would pass the share, and
    daily mode would write fewer (`daily_comments`: its lists and notes for the same
    reminders; None: not known, switch)."""
    limit = float(attention.max_bot_comment_share)
    after = counts.share_after(planned_comments)
    small = counts.total < SHARE_MIN_COMMENTS
    if configured == "daily" or planned_comments == 0 or small or after <= limit:
        return configured, None
    if daily_comments is not None and daily_comments >= planned_comments:
        return configured, None  # the lists and notes would say more, not less
    return "daily", BudgetDecision(repo, day, SHARE, SWITCHED_TO_DAILY, round(after, 3), limit)


def within_mentions(
    step: ReminderStep,
    week: Mapping[str, int],
    attention: Any,
    repo: str,
    day: str,
) -> tuple[ReminderStep | None, list[BudgetDecision]]:
    """People already mentioned `max_mentions_per_person_per_week` times are named without
    `@`; the step is held (None) when nobody is left to mention."""
    limit = int(attention.max_mentions_per_person_per_week)
    counts = {k.lower(): v for k, v in week.items()}
    # A team (`org/ospo`, told of escalations) is not a person: no personal budget.
    over = [p for p in step.mention if "/" not in p and counts.get(p.lower(), 0) + 1 > limit]
    if not over:
        return step, []
    keep = tuple(p for p in step.mention if p not in over)
    outcome = NOT_MENTIONED if keep else HELD
    decisions = [
        BudgetDecision(
            repo, day, MENTIONS, outcome, counts.get(p.lower(), 0) + 1, limit, step.item, p
        )
        for p in over
    ]
    if not keep:
        return None, decisions
    return replace(step, mention=keep, listed_only=(*step.listed_only, *over)), decisions
