"""From per-item tracks to a `Digest` (pure: every input is given, nothing is read).

`bot.digest.compute` loads the record and calls `assemble`; tests can call it on hand-built
tracks. The definitions are in `bot.digest.metrics`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.digest.metrics import (
    INACTIVE_DAYS,
    INDEPENDENT,
    Affiliation,
    Rules,
    Track,
    elephant_factor,
    median_or_none,
    outcome,
    ttfr_summary,
)
from bot.digest.model import (
    Digest,
    NewContributor,
    OrganisationShare,
    RepoHealth,
    Retention,
    Returner,
    TimeToFirstResponse,
    TrendPoint,
    Volume,
    WaitingItem,
)
from bot.forge.links import WebLinks
from bot.record.text import break_autolinks, without_invisible
from bot.sla import rules as sla

Week = tuple[str, datetime, datetime]  # (YYYY-Www, start, end: the week's end or now)
RETURN_WINDOW = timedelta(weeks=12)  # CHAOSS retention: a second contribution within it


@dataclass
class Inputs:
    org: str
    weeks: list[Week]  # trend weeks, oldest first; the last one is the digest's week
    generated_at: datetime
    tracks: list[Track]
    rules_for: Callable[[str], Rules]
    affiliation: Affiliation
    first_seen: Mapping[str, datetime] = field(default_factory=dict)  # casefold login -> first
    earlier_organisations: frozenset[str] = frozenset()
    repos: Sequence[str] = ()  # repositories to report on even without items
    last_responses: Mapping[str, datetime] = field(default_factory=dict)  # repo -> older ones
    url_base: str | WebLinks | None = "https://github.com"  # a GitHub base, or every forge's
    # Outside contributions opened in the 24 weeks before the period end (retention):
    # (login, created_at, repo, number, company, e-mail domain, labels)
    contributions: Sequence[tuple[str, datetime, str, int, str | None, str | None, list[str]]] = ()
    cohort: tuple[datetime, datetime] | None = None  # default: 24 to 12 weeks before the end


def _in(t: datetime | None, start: datetime, end: datetime) -> bool:
    return t is not None and start <= t < end


def links_of(base: str | WebLinks | None) -> WebLinks | None:
    """`url_base` as links: a string is GitHub's web root (GitLab hosts linked over https)."""
    if not base:
        return None
    return base if isinstance(base, WebLinks) else WebLinks.of(base)


def _url(base: str | WebLinks | None, repo: str, kind: str, number: int) -> str | None:
    links = links_of(base)
    return links.item(repo, kind, number) if links else None  # GitLab items link to GitLab


def open_during(track: Track, start: datetime, end: datetime) -> bool:
    """Open at some instant of [start, end]."""
    if track.item.created_at > end:
        return False
    if track.item.created_at >= start or track.open_at(start):
        return True
    return any(
        start < t <= end and not closed
        for t, closed in zip(track.change_times, track.change_closed, strict=True)
    )


def waiting_list(inp: Inputs, waiting: Iterable[Track], end: datetime) -> list[WaitingItem]:
    """`waiting`: the outside tracks waiting for a maintainer at `end`."""
    out: list[WaitingItem] = []
    for tr in waiting:
        waiting_on, days, overdue = tr.final_state or tr.clock_at(end, inp.rules_for(tr.item.repo))
        if waiting_on != sla.MAINTAINER:  # pragma: no cover - same rules as waiting_at
            continue
        i = tr.item
        out.append(
            WaitingItem(
                repo=i.repo,
                number=i.number,
                title=break_autolinks(without_invisible(i.title)),  # contributor text, copied
                author=i.author_login,
                author_class=i.author_class or "external",
                organisation=inp.affiliation.organisation(
                    i.author_login,
                    i.author_company,
                    i.author_email_domain,
                    i.labels,
                    i.created_at,
                ),  # fmt: skip
                business_days_waiting=round(days, 2),
                overdue=overdue,
                kind=i.kind,
                url=_url(inp.url_base, i.repo, i.kind, i.number),
            )
        )
    out.sort(key=lambda w: (-w.business_days_waiting, w.repo.lower(), w.number))
    return out


def _ttfr(inp: Inputs, group: str, tracks: Sequence[Track], end: datetime) -> TimeToFirstResponse:
    hours = [tr.ttfr_hours(inp.rules_for(tr.item.repo), end) for tr in tracks]
    within = [tr.answered_within_sla(inp.rules_for(tr.item.repo), end) for tr in tracks]
    return ttfr_summary(group, hours, within)


def volume(outside: Iterable[Track], start: datetime, end: datetime) -> Volume:
    v = Volume()
    for tr in outside:
        opened = _in(tr.item.created_at, start, end)
        closed = _in(tr.closed_at(end), start, end)
        if tr.item.kind == "pull":
            merged = tr.merged_by(end) and _in(tr.merged_at, start, end)
            v.pulls_opened += opened
            v.pulls_merged += merged
            v.pulls_closed += closed and not tr.merged_by(end)
        else:
            v.issues_opened += opened
            v.issues_closed += closed
    return v


def organisations(
    inp: Inputs, opened: Sequence[Track]
) -> tuple[list[OrganisationShare], list[str], int | None]:
    counts: Counter[str] = Counter()
    elephant: Counter[str] = Counter()
    for tr in opened:
        i = tr.item
        name = inp.affiliation.organisation(
            i.author_login, i.author_company, i.author_email_domain, i.labels, i.created_at
        )
        counts[name] += 1
        elephant[f"{INDEPENDENT}:{i.author_login.casefold()}" if name == INDEPENDENT else name] += 1
    shares = [
        OrganisationShare(name, n, name != INDEPENDENT and name not in inp.earlier_organisations)
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold(), kv[0]))
    ]
    return shares, [s.name for s in shares if s.new], elephant_factor(elephant)


def new_contributors(inp: Inputs, opened: Sequence[Track], end: datetime) -> list[NewContributor]:
    start = inp.weeks[-1][1]
    firsts: dict[str, Track] = {}
    for tr in sorted(opened, key=lambda t: (t.item.created_at, t.item.repo, t.item.number)):
        login = tr.item.author_login.casefold()
        seen = inp.first_seen.get(login, tr.item.created_at)
        if seen >= start and login not in firsts:
            firsts[login] = tr
    out = []
    for tr in firsts.values():
        i = tr.item
        org = inp.affiliation.organisation(
            i.author_login, i.author_company, i.author_email_domain, i.labels, i.created_at
        )
        out.append(NewContributor(i.author_login, org, i.repo, i.number, i.kind, outcome(tr, end)))
    return out


QUIET, ACTIVE, UNANSWERED = "quiet", "active", "unanswered"


def health_status(
    open_lately: bool, oldest_waiting: datetime | None, last_response: datetime | None,
    since: datetime,
) -> str:  # fmt: skip
    """A repository's flag at the period end (`since`: 90 days before it):
    - "unanswered": an outside item waiting for a maintainer was opened over 90 days ago and
      no maintainer has responded to any outside item for 90 days;
    - "quiet": no outside item was open at any time in the last 90 days (nothing to answer);
    - "active": anything else (outside items answered, or waiting for less than 90 days)."""
    silent = last_response is None or last_response < since
    if oldest_waiting is not None and oldest_waiting < since and silent:
        return UNANSWERED
    return ACTIVE if open_lately else QUIET


def retention(inp: Inputs, end: datetime) -> Retention:
    """Who of the cohort (first contribution 24 to 12 weeks before `end`) came back within
    12 weeks. Only contributions up to `end` are read, so the figure never changes later."""
    cohort_start, cohort_end = inp.cohort or (end - 2 * RETURN_WINDOW, end - RETURN_WINDOW)
    by_login: dict[str, list[tuple[datetime, str, int, Any]]] = defaultdict(list)
    for login, at, repo, number, company, domain, labels in inp.contributions:
        if at < end:
            by_login[login.casefold()].append((at, repo, number, (login, company, domain, labels)))
    out = []
    for key, rows in by_login.items():
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        first_at, repo, number, (login, company, domain, labels) = rows[0]
        if (
            inp.first_seen.get(key, first_at) < first_at
            or not cohort_start <= first_at < cohort_end
        ):
            continue  # contributed before the cohort, or first seen outside it
        second = next((r[0] for r in rows[1:] if r[0] < first_at + RETURN_WINDOW), None)
        org = inp.affiliation.organisation(login, company, domain, labels)
        out.append(Returner(login, org, repo, number, first_at, second is not None, second))
    out.sort(key=lambda c: (c.first_at, c.repo, c.number))
    return Retention(cohort_start, cohort_end, out)


def repo_health(
    inp: Inputs, outside: Sequence[Track], waiting: Sequence[WaitingItem], end: datetime
) -> list[RepoHealth]:
    trend_start = inp.weeks[0][1]
    since = end - timedelta(days=INACTIVE_DAYS)
    names = {r.lower(): r for r in inp.repos}
    by_repo: dict[str, list[Track]] = defaultdict(list)
    for tr in outside:
        names.setdefault(tr.item.repo.lower(), tr.item.repo)
        by_repo[tr.item.repo.lower()].append(tr)
    oldest: dict[str, float] = {}
    for w in waiting:
        key = w.repo.lower()
        oldest[key] = max(oldest.get(key, 0.0), w.business_days_waiting)
    older = {k.lower(): v for k, v in inp.last_responses.items()}
    waiting_keys = {(w.repo.lower(), w.number) for w in waiting}
    out = []
    for key, repo in names.items():
        tracks = by_repo.get(key, [])
        rules = inp.rules_for(repo)
        hours = [
            h
            for tr in tracks
            if _in(tr.item.created_at, trend_start, end)
            and (h := tr.ttfr_hours(rules, end)) is not None
        ]
        responses = [t for tr in tracks if (t := tr.last_response) is not None]
        last = max(responses, default=None) or older.get(key)
        waiting_since = min(
            (tr.item.created_at for tr in tracks if (key, tr.item.number) in waiting_keys),
            default=None,
        )
        status = health_status(
            any(open_during(tr, since, end) for tr in tracks), waiting_since, last, since
        )
        out.append(
            RepoHealth(
                repo=repo,
                open_outside_items=sum(tr.open_at(end) for tr in tracks),
                oldest_wait_business_days=oldest.get(key),
                ttfr_median_business_hours=median_or_none(hours),
                last_maintainer_response=last,
                inactive=status == UNANSWERED,
                status=status,
            )
        )
    out.sort(key=lambda r: (-(r.oldest_wait_business_days or -1.0), -r.open_outside_items, r.repo))
    return out


def trends(inp: Inputs, outside: Sequence[Track]) -> tuple[list[TrendPoint], list[Track]]:
    """The trend points, and the tracks waiting for a maintainer at the period end."""
    instants = [we for _, _, we in inp.weeks]
    starts = [ws for _, ws, _ in inp.weeks]
    count = len(instants)
    diff = [0] * (count + 1)
    opened: list[list[Track]] = [[] for _ in instants]
    waiting_at_end: list[Track] = []
    for tr in outside:
        k = bisect_right(starts, tr.item.created_at) - 1
        if k >= 0 and tr.item.created_at < instants[k]:
            opened[k].append(tr)
        for a, b in tr.waiting_ranges(instants):
            diff[a] += 1
            diff[b] -= 1
            if b == count:
                waiting_at_end.append(tr)
    points, running = [], 0
    for k, (week, _, week_end) in enumerate(inp.weeks):
        running += diff[k]
        # Responses up to the week's own end, as in that week's digest: a past week's row
        # is the same in every later trend.
        hours = [
            h
            for tr in opened[k]
            if (h := tr.ttfr_hours(inp.rules_for(tr.item.repo), week_end)) is not None
        ]
        points.append(TrendPoint(week, median_or_none(hours), len(opened[k]), running))
    return points, waiting_at_end


def assemble(inp: Inputs) -> Digest:
    week, start, end = inp.weeks[-1]
    outside = [tr for tr in inp.tracks if tr.item.group == "outside"]
    inside = [tr for tr in inp.tracks if tr.item.group == "inside"]
    opened_out = [tr for tr in outside if _in(tr.item.created_at, start, end)]
    opened_in = [tr for tr in inside if _in(tr.item.created_at, start, end)]
    points, waiting_tracks = trends(inp, outside)
    waiting = waiting_list(inp, waiting_tracks, end)
    vol = volume(outside, start, end)
    pulls_done = vol.pulls_closed + vol.pulls_merged
    shares, new_orgs, elephant = organisations(inp, opened_out)
    return Digest(
        org=inp.org,
        week=week,
        start=start,
        end=end,
        generated_at=inp.generated_at,
        ttfr_outside=_ttfr(inp, "outside", opened_out, end),
        ttfr_inside=_ttfr(inp, "inside", opened_in, end),
        volume=vol,
        change_request_closure_ratio=(
            round(pulls_done / vol.pulls_opened, 4) if vol.pulls_opened else None
        ),
        waiting=waiting,
        new_contributors=new_contributors(inp, opened_out, end),
        organisations=shares,
        new_organisations=new_orgs,
        elephant_factor=elephant,
        repositories=repo_health(inp, outside, waiting, end),
        trend_4w=points[-4:],
        trend_12w=points[-12:],
        retention=retention(inp, end),
    )
