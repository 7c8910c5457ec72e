"""Contributor-health metrics: pure functions over items, timeline entries, calendars, config.

Definitions (the README copies these; CHAOSS names where one exists):

**Outside / inside.** An item's author is *outside* when their class is `external` or
`partner`, *inside* when `maintainer`, `member` or `internal_partner` (the team, as in
`bot.sla.rules`). Items by bots or by authors of unknown class are left out of every metric.

**Response.** As in `bot.sla.rules`: a comment or review by a team member, or a close or merge done
by one; never a bot, never the author, never a label change, an assignment or a comment made
only of slash commands.

**Time to First Response (CHAOSS).** For the items opened in the period, the time from
creation to the first response, in *business hours* (real hours inside the working hours of
business days of the repository's calendar: public holidays, weekends and closures count
zero). Given separately for outside and inside authors: the median and the 90th percentile
(linear interpolation between closest ranks) over the answered items, the number of items
still unanswered at the period end (reported, never dropped), and the share of all the
period's items answered within `sla.first_response_days` business days (unanswered items
count as not answered in time).

**Waiting at the end of the period.** Every outside item that, at the period end (for the
current week: now), is waiting for a maintainer by `bot.sla.rules.waiting_state`'s rules, with the
business days it has waited by then and whether it is overdue. Reproducible: only timeline
entries that occurred at or before the period end are used, and the item's state is rebuilt
as of then from its close, merge and reopen entries (an item closed later still counts as
open then), so a past week's digest does not change whatever happens afterwards.

**Volume.** Outside issues and pull requests opened in the period; those closed in the
period (closed at its end, by a close that happened in it; pull requests closed without a
merge only); pull requests merged in the period.

**Change Request Closure Ratio (CHAOSS).** Outside pull requests closed or merged in the
period divided by those opened in it (None when none was opened).

**New contributors (CHAOSS).** Outside authors whose first contribution ever in the
organisation (their earliest issue or pull request in any of its repositories) was opened in
the period, with the outcome of that contribution at the period end: `merged`, `closed`,
`answered` (open, with a response) or `waiting` (open, without one).

**Retention (CHAOSS).** Of the outside authors whose first contribution to the organisation
was opened in the 12 weeks ending 12 weeks before the period end, those who opened a second
one within 12 weeks of their first (`bot.digest.assemble.retention`).

**Contributing organisations.** Each outside contribution (issue or pull request opened in the
period) is credited to a configured partner (by `partners[].logins`, then
`partners[].email_domains` against the author's public e-mail domain, then the item's
`partner: <name>` label, which triage sets from `partners[].github_orgs`, or a public company
field naming one of those GitHub orgs), else to the author's public `company` field
normalised (surrounding spaces and a leading "@" removed; spellings differing only in case are
one organisation, shown as the first spelling met), else to "independent". An organisation is
*new* when none of the organisation's earlier outside contributions was credited to it.

**Elephant factor (CHAOSS).** The fewest organisations that together account for at least
half of the period's outside contributions; each independent contributor counts as an
organisation of their own.

**Repository health.** Per repository: outside items open at the period end, the longest
current wait (business days), the Time to First Response median of outside items opened in
the 12 trend weeks, the last response to an outside item up to the period end, and a status
(`bot.digest.assemble.health_status`): *unanswered* when an outside item waiting for a
maintainer was opened over 90 days ago and no outside item got a response in the last 90 days,
*quiet* when no outside item was open in the last 90 days, else *active*.

**Trends.** The same figures for the 4 and 12 weeks ending with the digest's week (oldest
first): outside items opened, median Time to First Response of those items (responses up to
that week's end, so a week's row equals its own digest's figure in every later trend), and
items waiting for a maintainer at each week's end.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.digest.fastcal import PrefixCalendar
from bot.digest.model import TimeToFirstResponse
from bot.sla import rules as sla
from bot.sla.calendar import BusinessCalendar
from bot.storage.models import TimelineKind as K

OUTSIDE = sla.OUTSIDE_AUTHORS
INSIDE = sla.TEAM
INDEPENDENT = "independent"
INACTIVE_DAYS = 90
STATE_KINDS = frozenset({K.CLOSED, K.MERGED, K.REOPENED})
# Everything the SLA replay and the first-response search read; labels, edits... are not.
NEEDED_KINDS = (
    K.COMMENTED, K.REVIEWED, K.CLOSED, K.MERGED, K.REOPENED,
    K.PUSHED, K.READY_FOR_REVIEW, K.WAITING_ON, K.SNOOZED,
)  # fmt: skip


@dataclass(slots=True)
class ItemRecord:
    """The columns of `Item` the digest reads."""

    repo: str
    number: int
    kind: str
    title: str
    author_login: str
    author_class: str | None
    created_at: datetime
    state: str = "open"  # as last seen; see `Track.closed_at` for the state at an instant
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    author_company: str | None = None
    author_email_domain: str | None = None
    labels: list[str] = field(default_factory=list)

    @property
    def group(self) -> str | None:
        """The author's side: "outside", "inside" or None (bots, unknown authors)."""
        if self.author_class in OUTSIDE:
            return "outside"
        return "inside" if self.author_class in INSIDE else None


@dataclass(slots=True)
class EntryRecord:
    """The columns of `TimelineEntry` the digest reads (`detail` only keeps what rules use)."""

    kind: str
    occurred_at: datetime
    actor_login: str | None = None
    actor_class: str | None = None
    actor_type: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _AsOf:  # an item as `bot.sla.rules` sees it, with its state at an instant
    author_login: str
    author_class: str | None
    state: str
    created_at: datetime


@dataclass(frozen=True)
class Rules:
    """What a repository's config says that the metrics need."""

    calendar: BusinessCalendar
    sla: Any
    first_response_days: float

    @classmethod
    def from_config(cls, cfg: Any) -> Rules:
        return cls(
            PrefixCalendar.from_config(cfg.calendar),
            cfg.sla,
            float(sla.sla_setting(cfg.sla, "first_response_days")),
        )


# -- one item ------------------------------------------------------------------------------


def first_response(
    item: ItemRecord, entries: Iterable[EntryRecord], bots: frozenset[str]
) -> datetime | None:
    """Instant of the first response to `item` among `entries` (sorted by time)."""
    hits = (e.occurred_at for e in entries if sla.is_response(e, item.author_login, bots))
    return next(hits, None)


@dataclass(slots=True)
class Track:
    """One item and its timeline up to the period end, asked about several instants."""

    item: ItemRecord
    entries: list[EntryRecord]
    bots: frozenset[str]
    times: list[datetime] = field(default_factory=list)
    change_times: list[datetime] = field(default_factory=list)
    change_closed: list[bool] = field(default_factory=list)
    first_response: datetime | None = None
    last_response: datetime | None = None
    merged_at: datetime | None = None
    rules: Rules | None = None  # the repository's; needed for the SLA state at the period end
    # (waiting_on, business days waiting, overdue) at the last instant given to
    # `waiting_ranges` (set there when `rules` is known)
    final_state: tuple[str | None, float, bool] | None = None
    _ttfr: dict[int, float | None] = field(default_factory=dict)
    # One replay of all the entries (`_fold`): who held the ball after each of them, and the
    # replay's end state for the clock at the period end.
    _balls: list[str | None] | None = None
    _final: Any = None

    def __post_init__(self) -> None:
        """One pass over the entries: instants, state changes, merge, first and last
        responses."""
        entries, item = self.entries, self.item
        entries.sort(key=lambda e: e.occurred_at)
        times, change_times, change_closed = self.times, self.change_times, self.change_closed
        merged, first, last = None, None, None
        for e in entries:
            t, kind = e.occurred_at, e.kind
            times.append(t)
            if kind in STATE_KINDS:
                change_times.append(t)
                change_closed.append(kind != K.REOPENED)
                if kind == K.MERGED and merged is None:
                    merged = t
            if e.actor_class in INSIDE and sla.is_response(e, item.author_login, self.bots):
                first = first or t
                last = t
        if not any(change_closed):  # a record without close entries: use the item's fields
            closed = item.merged_at or item.closed_at
            if closed is not None and item.state != "open":
                at = bisect_right(change_times, closed)
                change_times.insert(at, closed)
                change_closed.insert(at, True)
        self.merged_at = merged or item.merged_at
        self.first_response, self.last_response = first, last

    def closed_at(self, at: datetime) -> datetime | None:
        """When the item was closed, if it was closed at `at`; None if it was open then."""
        i = bisect_right(self.change_times, at) - 1
        return self.change_times[i] if i >= 0 and self.change_closed[i] else None

    def open_at(self, at: datetime) -> bool:
        return self.item.created_at <= at and self.closed_at(at) is None

    def merged_by(self, at: datetime) -> bool:
        return self.merged_at is not None and self.merged_at <= at

    def as_of(self, at: datetime) -> _AsOf:
        i = self.item
        state = "open" if self.open_at(at) else "closed"
        return _AsOf(i.author_login, i.author_class, state, i.created_at)

    def waiting_at(self, at: datetime) -> bool:
        """Waiting for a maintainer at `at` (the rules of `bot.sla.rules`, without the clock)."""
        if self.item.author_class not in OUTSIDE or not self.open_at(at):
            return False
        n = bisect_right(self.times, at)
        if n == 0:
            return True  # an outside item nobody has touched yet
        return self._fold()[n - 1] == sla.MAINTAINER  # `sla.ball_holder` of the first n entries

    def _fold(self) -> list[str | None]:
        """Replay the entries once (then kept): who held the ball after each one."""
        if self._balls is None:
            balls: list[str | None] = []
            self._final = sla.replay(self.item, self.entries, self.bots, in_order=True, balls=balls)
            self._balls = balls
        return self._balls

    def waiting_ranges(self, instants: Sequence[datetime]) -> list[tuple[int, int]]:
        """Index ranges [k0, k1) of the sorted `instants` at which the item waits for a
        maintainer. The answer only changes at its creation, entries and state changes, so
        it is asked once per range, not once per instant. With `rules`, the full SLA state at
        the last instant is kept in `final_state`."""
        if self.item.author_class not in OUTSIDE:
            return []
        count = len(instants)
        marks = {bisect_left(instants, self.item.created_at)}
        marks.update(bisect_left(instants, t) for t in self.times)
        marks.update(bisect_left(instants, t) for t in self.change_times)
        bounds = [*sorted(k for k in marks if k < count), count]
        out = []
        for a, b in zip(bounds, bounds[1:], strict=False):
            if b == count and self.rules is not None:  # one replay gives the clock as well
                waiting = self.open_at(instants[-1])
                if waiting:
                    self.final_state = self.clock_at(instants[-1], self.rules)
                    waiting = self.final_state[0] == sla.MAINTAINER
            else:
                waiting = self.waiting_at(instants[b - 1])  # the same at every instant of [a, b)
            if waiting:
                out.append((a, b))
        return out

    def clock_at(self, at: datetime, rules: Rules) -> tuple[str | None, float, bool]:
        """(waiting_on, business days waiting, overdue) at `at`, as `bot.sla.rules.waiting_state`
        says from the entries up to `at`."""
        n = bisect_right(self.times, at)
        if n == len(self.entries):  # the usual case: entries are read up to the period end
            self._fold()
            return sla.clock_of(self.as_of(at), self._final, at, rules.calendar, rules.sla)
        return sla.waiting_clock(
            self.as_of(at), self.entries[:n], at, rules.calendar, self.bots, rules.sla
        )

    def ttfr_hours(self, rules: Rules, until: datetime) -> float | None:
        """Business hours to the first response, if there was one by `until`."""
        fr = self.first_response
        if fr is None or fr > until:
            return None
        key = id(rules)
        if key not in self._ttfr:
            self._ttfr[key] = rules.calendar.working_hours_between(self.item.created_at, fr)
        return self._ttfr[key]

    def answered_within_sla(self, rules: Rules, until: datetime) -> bool:
        fr = self.first_response
        if fr is None or fr > until:
            return False
        return (
            rules.calendar.business_days_between(self.item.created_at, fr)
            <= rules.first_response_days
        )


# -- summaries -----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def median_or_none(values: Sequence[float]) -> float | None:
    return _round(percentile(values, 0.5))


def ttfr_summary(
    group: str, hours: Sequence[float | None], within_sla: Sequence[bool]
) -> TimeToFirstResponse:
    """`hours[i]`: business hours to the first response of item i, None when unanswered."""
    answered = [h for h in hours if h is not None]
    items = len(hours)
    return TimeToFirstResponse(
        group=group,
        items=items,
        answered=len(answered),
        unanswered=items - len(answered),
        median_business_hours=_round(percentile(answered, 0.5)),
        p90_business_hours=_round(percentile(answered, 0.9)),
        within_sla_share=_round(sum(within_sla) / items, 4) if items else None,
    )


def elephant_factor(contributions: Mapping[str, int]) -> int | None:
    """Fewest keys whose counts reach half of the total; None when there is nothing."""
    total = sum(contributions.values())
    if total <= 0:
        return None
    acc = 0
    for rank, count in enumerate(sorted(contributions.values(), reverse=True), start=1):
        acc += count
        if 2 * acc >= total:
            return rank
    return len(contributions)  # pragma: no cover - the loop always reaches the total


def company_display(company: str | None) -> str | None:
    """Public `company` field as shown: spaces and a leading "@" removed, case kept."""
    if not company:
        return None
    return " ".join(company.split()).lstrip("@").strip() or None


def normalise_company(company: str | None) -> str | None:
    """Public `company` field -> organisation key: `company_display`, case-folded."""
    value = company_display(company)
    return value.casefold() if value else None


class Affiliation:
    """Configured partners of an organisation (union over its repositories' configs)."""

    def __init__(self, partners: Iterable[Any] = (), label_prefix: str = "partner: ") -> None:
        self.partners = tuple(partners)
        self.label_prefix = label_prefix
        self._logins: dict[str, str] = {}
        self._domains: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self._orgs: dict[str, str] = {}
        self._companies: dict[str | None, str | None] = {}
        self._display: dict[str, str] = {}
        self.declared: dict[str, list[tuple[datetime, str]]] = {}
        for p in reversed(self.partners):  # the first partner listed wins
            name = str(p.name)
            self._logins.update({x.casefold(): name for x in p.logins})
            self._domains.update({d.lstrip("@").casefold(): name for d in p.email_domains})
            self._labels[(label_prefix + name)[:50]] = name
            self._orgs.update({o.casefold(): name for o in p.github_orgs})

    def by_login(self, login: str) -> str | None:
        """The partner a login is configured under (`partners[].logins`), if any."""
        return self._logins.get(login.casefold())

    def declare(self, login: str, since: datetime, organisation: str) -> None:
        """A declared affiliation (`/affiliation independent`, or the credit frozen when a
        login is pseudonymised): it wins for contributions opened from `since` on, so past
        weeks never change."""
        self.declared.setdefault(login.casefold(), []).append((since, organisation))
        self.declared[login.casefold()].sort()

    def organisation(
        self,
        login: str,
        company: str | None,
        email_domain: str | None,
        labels: Iterable[str] = (),
        at: datetime | None = None,
    ) -> str:
        """The organisation an outside contribution (opened at `at`) is credited to (see the
        module docstring): a declared affiliation, then partner by login, then by e-mail
        domain, then by label or company naming a partner's GitHub org; else the normalised
        company; else "independent"."""
        declared = self.declared.get(login.casefold()) if self.declared else None
        if declared and at is not None:
            current = [org for since, org in declared if since <= at]
            if current:
                return current[-1]
        found = self._logins.get(login.casefold())
        if found is None and email_domain:
            found = self._domains.get(email_domain.lstrip("@").casefold())
        if found is not None:
            return found
        for label in labels:
            if label in self._labels:
                return self._labels[label]
        if company in self._companies:
            company_key = self._companies[company]
        else:
            company_key = self._companies[company] = normalise_company(company)
        if company_key is None or company_key == INDEPENDENT:
            return INDEPENDENT
        if company_key in self._orgs:
            return self._orgs[company_key]
        # Counted by the case-folded key, shown as the first spelling seen ("OpenCity Ltd").
        return self._display.setdefault(company_key, company_display(company) or company_key)


def outcome(track: Track, at: datetime) -> str:
    """What became of a contribution by `at`: merged, closed, answered or waiting."""
    if track.merged_by(at):
        return "merged"
    if track.closed_at(at) is not None:
        return "closed"
    fr = track.first_response
    return "answered" if fr is not None and fr <= at else "waiting"
