"""Weekly aggregates behind the dashboard's repository, contributor and organisation pages.

One `compute_digest` run (seconds on a large org) gives the week's `Digest` and the tracks of
the 12 weeks ending with it; `weekly_aggregates` folds those tracks into per-week counters
(per repository, per organisation, new contributors) so that any period of 1 to 12 whole weeks
ending with that week is a sum over buckets, computed per request in microseconds. The store
that keeps them (computed once per week and per change of the record) is `bot.web.snapshots`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.digest.assemble import Inputs
from bot.digest.metrics import INDEPENDENT, Track, median_or_none, outcome


@dataclass
class RepoWeek:
    """One repository's outside activity in one week."""

    issues_opened: int = 0
    pulls_opened: int = 0
    issues_closed: int = 0
    pulls_closed: int = 0  # closed without a merge
    pulls_merged: int = 0
    # business hours to the first response of the items opened this week, answered by its end
    ttfr_hours: list[float] = field(default_factory=list)
    unanswered: int = 0  # items opened this week without a response by its end


@dataclass(frozen=True)
class Newcomer:
    """An outside author whose first contribution to the org was opened in week `week`."""

    login: str
    organisation: str
    repo: str
    number: int
    kind: str
    week: int  # index into the snapshot's weeks
    first_at: datetime
    outcome: str  # of the first contribution at the snapshot's end
    second_at: datetime | None  # their next contribution, if any, up to the snapshot's end


@dataclass
class Aggregates:
    weeks: list[tuple[str, datetime, datetime]]  # (YYYY-Www, start, end), oldest first
    repos: dict[str, list[RepoWeek]] = field(default_factory=dict)  # lower-case name -> weeks
    first_response_days: dict[str, list[float]] = field(default_factory=dict)  # repo -> 12 w
    sla_days: dict[str, float] = field(default_factory=dict)  # repo -> first_response_days
    # (week, organisation, repository) -> outside contributions opened
    contributions: Counter[tuple[int, str, str]] = field(default_factory=Counter)
    # (week, elephant key) -> contributions (each independent counts as an org of their own)
    elephant: Counter[tuple[int, str]] = field(default_factory=Counter)
    newcomers: list[Newcomer] = field(default_factory=list)

    def week_index(self, week: str) -> int | None:
        names = [w for w, _, _ in self.weeks]
        return names.index(week) if week in names else None


def _week(starts: Sequence[datetime], ends: Sequence[datetime], at: datetime | None) -> int:
    """Index of the week holding `at`, -1 outside the weeks."""
    if at is None:
        return -1
    k = bisect_right(starts, at) - 1
    return k if k >= 0 and at < ends[k] else -1


def weekly_aggregates(inp: Inputs, first_seen: Mapping[str, datetime]) -> Aggregates:
    """Per-week counters from the inputs of one digest (`first_seen`: casefolded login ->
    first contribution to the org, for every outside author of the 12 weeks)."""
    agg = Aggregates(list(inp.weeks))
    starts = [s for _, s, _ in inp.weeks]
    ends = [e for _, _, e in inp.weeks]
    end = ends[-1]
    for name in inp.repos:
        agg.repos.setdefault(name.lower(), [RepoWeek() for _ in ends])
    outside = [tr for tr in inp.tracks if tr.item.group == "outside"]
    for tr in outside:
        _fold_track(agg, inp, tr, starts, ends)
    agg.newcomers = _newcomers(inp, outside, first_seen, starts, ends, end)
    return agg


def _fold_track(
    agg: Aggregates, inp: Inputs, tr: Track, starts: list[datetime], ends: list[datetime]
) -> None:
    i = tr.item
    key = i.repo.lower()
    weeks = agg.repos.get(key)
    if weeks is None:
        weeks = agg.repos[key] = [RepoWeek() for _ in ends]
    rules = inp.rules_for(i.repo)
    agg.sla_days[key] = rules.first_response_days
    k = _week(starts, ends, i.created_at)
    if k >= 0:
        w = weeks[k]
        if i.kind == "pull":
            w.pulls_opened += 1
        else:
            w.issues_opened += 1
        hours = tr.ttfr_hours(rules, ends[k])
        if hours is None:
            w.unanswered += 1
        else:
            w.ttfr_hours.append(hours)
        fr = tr.first_response
        if fr is not None and fr <= ends[-1]:
            days = rules.calendar.business_days_between(i.created_at, fr)
            agg.first_response_days.setdefault(key, []).append(float(days))
        org = inp.affiliation.organisation(
            i.author_login, i.author_company, i.author_email_domain, i.labels, i.created_at
        )
        agg.contributions[(k, org, i.repo)] += 1
        who = f"{INDEPENDENT}:{i.author_login.casefold()}" if org == INDEPENDENT else org
        agg.elephant[(k, who)] += 1
    closes = {
        c for t, closed in zip(tr.change_times, tr.change_closed, strict=True)
        if closed and (c := _week(starts, ends, t)) >= 0
    }  # fmt: skip
    for c in closes:  # closed at the end of a week by a close made in it (as the digest)
        at = tr.closed_at(ends[c])
        if at is None or not starts[c] <= at < ends[c]:
            continue
        if i.kind != "pull":
            weeks[c].issues_closed += 1
        elif not tr.merged_by(ends[c]):
            weeks[c].pulls_closed += 1
    if i.kind == "pull" and (m := _week(starts, ends, tr.merged_at)) >= 0:
        weeks[m].pulls_merged += 1


def _newcomers(
    inp: Inputs,
    outside: Sequence[Track],
    first_seen: Mapping[str, datetime],
    starts: list[datetime],
    ends: list[datetime],
    end: datetime,
) -> list[Newcomer]:
    later: dict[str, list[datetime]] = defaultdict(list)
    for login, at, *_ in inp.contributions:
        if at < end:
            later[login.casefold()].append(at)
    for tr in outside:
        if tr.item.created_at < end:
            later[tr.item.author_login.casefold()].append(tr.item.created_at)
    firsts: dict[str, Track] = {}
    for tr in sorted(outside, key=lambda t: (t.item.created_at, t.item.repo, t.item.number)):
        key = tr.item.author_login.casefold()
        k = _week(starts, ends, tr.item.created_at)
        if k >= 0 and key not in firsts and first_seen.get(key, tr.item.created_at) >= starts[k]:
            firsts[key] = tr
    out = []
    for key, tr in firsts.items():
        i = tr.item
        second = min((t for t in later[key] if t > i.created_at), default=None)
        org = inp.affiliation.organisation(
            i.author_login, i.author_company, i.author_email_domain, i.labels, i.created_at
        )
        k = _week(starts, ends, i.created_at)
        out.append(
            Newcomer(i.author_login, org, i.repo, i.number, i.kind, k, i.created_at,
                     outcome(tr, end), second)
        )  # fmt: skip
    out.sort(key=lambda n: (n.first_at, n.repo.lower(), n.number))
    return out


def outside_authors(inp: Inputs) -> list[str]:
    """Outside authors of the 12 weeks (their first contribution is looked up in SQL)."""
    start = inp.weeks[0][1]
    return sorted(
        {tr.item.author_login for tr in inp.tracks
         if tr.item.group == "outside" and tr.item.created_at >= start}
    )  # fmt: skip


# -- a period: a sum of weeks ------------------------------------------------------------


@dataclass(frozen=True)
class RepoPeriod:
    issues_opened: int
    pulls_opened: int
    issues_closed: int
    pulls_closed: int
    pulls_merged: int
    ttfr_median_hours: float | None
    answered: int
    unanswered: int


def repo_period(weeks: Sequence[RepoWeek], first: int, last: int) -> RepoPeriod:
    chosen = list(weeks[first : last + 1])
    hours = [h for w in chosen for h in w.ttfr_hours]
    return RepoPeriod(
        sum(w.issues_opened for w in chosen),
        sum(w.pulls_opened for w in chosen),
        sum(w.issues_closed for w in chosen),
        sum(w.pulls_closed for w in chosen),
        sum(w.pulls_merged for w in chosen),
        median_or_none(hours),
        len(hours),
        sum(w.unanswered for w in chosen),
    )


def repo_trend(weeks: Sequence[RepoWeek]) -> list[tuple[int, float | None, int]]:
    """(week index, median first response in business hours, items opened) per week."""
    return [
        (k, median_or_none(w.ttfr_hours), w.issues_opened + w.pulls_opened)
        for k, w in enumerate(weeks)
    ]


def org_matrix(
    agg: Aggregates, first: int, last: int, repos: Iterable[str] | None = None
) -> tuple[list[str], list[str], dict[tuple[str, str], int]]:
    """(organisations, repositories, counts) of outside contributions in weeks [first, last],
    both lists largest first; only `repos` (lower-case names) when given."""
    wanted = None if repos is None else set(repos)
    cells: Counter[tuple[str, str]] = Counter()
    for (k, org, repo), n in agg.contributions.items():
        if first <= k <= last and (wanted is None or repo.lower() in wanted):
            cells[(org, repo)] += n
    by_org: Counter[str] = Counter()
    by_repo: Counter[str] = Counter()
    for (org, repo), n in cells.items():
        by_org[org] += n
        by_repo[repo] += n
    orgs = sorted(by_org, key=lambda o: (-by_org[o], o.casefold()))
    repo_names = sorted(by_repo, key=lambda r: (-by_repo[r], r.casefold()))
    return orgs, repo_names, dict(cells)


def org_over_time(agg: Aggregates, orgs: Sequence[str], first: int, last: int) -> list[list[int]]:
    """Contributions of each of `orgs` in each week of [first, last]."""
    rows = {o: [0] * (last - first + 1) for o in orgs}
    for (k, org, _repo), n in agg.contributions.items():
        if first <= k <= last and org in rows:
            rows[org][k - first] += n
    return [rows[o] for o in orgs]


def elephant_of(agg: Aggregates, first: int, last: int) -> int | None:
    from bot.digest.metrics import elephant_factor

    total: Counter[str] = Counter()
    for (k, who), n in agg.elephant.items():
        if first <= k <= last:
            total[who] += n
    return elephant_factor(total)
