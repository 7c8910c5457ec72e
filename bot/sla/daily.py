"""Daily reminders (`sla.reminders: daily`): one list a day per person, not a comment per item
(pure).

In daily mode the reminders due in a sweep are grouped by the person they would mention. Each
person gets at most one comment a day, listing every item waiting on them (longest wait
first), posted in the repository's waiting-list issue, or in the organisation's when their
items span several repositories (`ospo.repository`); later sweeps of the same day edit that
comment instead of posting again. The contributor's item gets one short note the first time
its maintainers are reminded, so the contributor knows someone was asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class WaitingLike(Protocol):  # bot.sla.plan.Waiting fits
    repo: str
    number: int
    business_days: float
    responsible: list[str]


@dataclass(frozen=True)
class DailyNotice:
    """One person's list of the day, and where it goes."""

    login: str
    scope: str  # the repository, or the organisation when the items span several
    day: str  # YYYY-MM-DD
    items: tuple[Any, ...]  # WaitingLike, longest wait first

    @property
    def key(self) -> str:
        """Identity of the comment, edited in place through the day."""
        return f"daily:{self.scope}:{self.login.lower()}:{self.day}"


def _handle(p: str) -> str:
    return p.lstrip("@").lower()


def plan_daily(
    due_people: Iterable[str],
    waiting: Sequence[WaitingLike],
    owner: str,
    day: str,
    *,
    org_issue: bool = True,
    scopes_today: Mapping[str, str] | None = None,
) -> list[DailyNotice]:
    """A notice for each person a due reminder would mention (`due_people`), listing all the
    items in `waiting` that they are responsible for. Without an organisation issue
    (`org_issue=False`: no `ospo.repository`), items of several repositories make one notice
    per repository. `scopes_today`: where each person's list of the day already is; it stays
    there (edited), so nobody gets a second notification the same day."""
    notices: list[DailyNotice] = []
    for login in dict.fromkeys(_handle(p) for p in due_people):
        mine = sorted(
            (w for w in waiting if login in {_handle(r) for r in w.responsible}),
            key=lambda w: (-w.business_days, w.repo, w.number),
        )
        if not mine:
            continue
        repos = list(dict.fromkeys(w.repo for w in mine))
        if login in (scopes_today or {}):
            notices.append(DailyNotice(login, (scopes_today or {})[login], day, tuple(mine)))
            continue
        if len(repos) == 1 or org_issue:
            scope = repos[0] if len(repos) == 1 else owner
            notices.append(DailyNotice(login, scope, day, tuple(mine)))
            continue
        for repo in repos:
            notices.append(DailyNotice(login, repo, day, tuple(w for w in mine if w.repo == repo)))
    return notices


def scopes_of_day(mention_keys: Iterable[str], day: str) -> dict[str, str]:
    """Where each person's list of `day` was posted, from the sweep's mention keys
    (`mention:<day>:<login>:daily:<scope>:<login>:<day>`, bot/sla/sweep.py)."""
    out: dict[str, str] = {}
    for key in mention_keys:
        parts = key.split(":")
        if len(parts) == 7 and parts[1] == day and parts[3] == "daily":
            out[parts[2].lower()] = parts[4]
    return out


def note_key(item_ref: str) -> str:
    """The contributor's note is sent once per item, ever."""
    return f"daily-note:{item_ref}"
