"""`compute_digest`: read the record (never GitHub) and assemble one org's weekly digest.

Only rows that can matter are read, with SQL filters on the org and the time window:
- items opened before the period end and not closed before the window start (the earliest
  trend week, or 90 days back for repository health), authored by outside people; plus the
  inside items opened in the period (their Time to First Response);
- their timeline entries up to the period end, of the kinds the rules read (no labels,
  edits, assignments), with only the `detail` keys the rules read (never whole bodies);
- a few aggregates (first contribution of each new author, earlier organisations, last
  responses of quiet repositories).
Everything else is computed in Python in one pass over those rows (`bot.digest.assemble`).
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from typing import cast as cast_type

import orjson
from sqlalchemy import String, and_, case, cast, func, or_, select, type_coerce
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement

from bot.digest.assemble import RETURN_WINDOW, Inputs, Week, assemble
from bot.digest.attention_log import load_decisions
from bot.digest.configs import ConfigSource, OrgConfigs
from bot.digest.metrics import (
    INACTIVE_DAYS,
    INSIDE,
    NEEDED_KINDS,
    OUTSIDE,
    Affiliation,
    EntryRecord,
    ItemRecord,
    Track,
)
from bot.digest.model import Digest
from bot.digest.ospo import Owners, ospo_configs, owned
from bot.digest.period import last_complete_week, normalise_week, week_bounds, weeks_ending
from bot.forge.links import WebLinks
from bot.forge.names import org_config_repo
from bot.storage.models import Item, Repository, TimelineEntry
from bot.storage.models import TimelineKind as K

TREND_WEEKS = 12
CHUNK = 500
_RESPONSE_KINDS = (K.COMMENTED, K.REVIEWED, K.CLOSED, K.MERGED)
I = Item.__table__  # type: ignore[attr-defined]  # noqa: E741
T = TimelineEntry.__table__  # type: ignore[attr-defined]


# -- reading -------------------------------------------------------------------------------


def _ts(conn: Connection, column: Any) -> Any:
    """SQLite keeps datetimes as text: fetch the text and parse it in one C call below."""
    return type_coerce(column, String) if conn.dialect.name == "sqlite" else column


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite: naive UTC text
        return datetime.fromisoformat(value + "+00:00" if len(value) < 27 else value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _tuples(conn: Connection, q: Any) -> list[tuple[Any, ...]]:
    """All rows as plain tuples straight from the DBAPI cursor, skipping SQLAlchemy's Row
    objects (a third of the read time). Only for selects whose columns need no result
    processing: text, integers, and timestamps that `_utc` normalises."""
    result = conn.execute(q)
    try:
        cursor = getattr(result, "cursor", None)
        return list(cursor.fetchall()) if cursor is not None else [tuple(r) for r in result]
    finally:
        result.close()


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for k in range(0, len(values), CHUNK):
        yield values[k : k + CHUNK]


def _item_filter(
    org: Owners, start: datetime, end: datetime, window: datetime, repos: Sequence[str] | None
) -> ColumnElement[bool]:
    """Items that can matter: opened before the end, not closed before the window, and
    outside-authored or opened in the period."""
    conditions = [
        owned(I.c.owner, org),
        I.c.created_at < end,
        or_(I.c.state == "open", I.c.closed_at.is_(None), I.c.closed_at >= window),
        or_(I.c.author_class.in_(sorted(OUTSIDE)), I.c.created_at >= start),
    ]
    if repos is not None:
        conditions.append(func.lower(I.c.repo_full_name).in_([r.lower() for r in repos]))
    return and_(*conditions)


def load_items(conn: Connection, where: ColumnElement[bool]) -> list[ItemRecord]:
    q = select(
        I.c.repo_full_name, I.c.number, I.c.kind, I.c.title, I.c.author_login,
        I.c.author_class, _ts(conn, I.c.created_at), I.c.state, _ts(conn, I.c.closed_at),
        _ts(conn, I.c.merged_at), I.c.author_company, I.c.author_email_domain,
        cast(I.c.labels, String),
    ).where(where)  # fmt: skip
    out = []
    for row in _tuples(conn, q):
        repo, n, kind, title, login, cls, created, state, closed, merged, company, domain, tags = (
            row
        )
        out.append(
            ItemRecord(repo, n, kind, title or "", login or "", cls, _utc(created),  # type: ignore[arg-type]
                       state, _utc(closed), _utc(merged), company, domain,
                       orjson.loads(tags) if tags and tags != "[]" else [])
        )  # fmt: skip
    return out


_DETAIL_KINDS = (K.COMMENTED, K.REVIEWED, K.WAITING_ON, K.SNOOZED)
# Shared by every entry without detail; read-only (the rules never write to `detail`).
_NO_DETAIL = cast_type(dict[str, Any], MappingProxyType({}))


def _detail(kind: str, text: str | None) -> dict[str, Any]:
    """Only the `detail` keys the rules read; a comment's body only if it may be made of
    slash commands (its first non-blank character is "/")."""
    if not text:
        return _NO_DETAIL
    raw = orjson.loads(text)
    if kind == K.COMMENTED:
        out = {k: raw[k] for k in ("command", "asks_author") if raw.get(k)}
        body = raw.get("body")
        if isinstance(body, str) and body.lstrip().startswith("/"):
            out["body"] = body
        return out or _NO_DETAIL
    key = {K.REVIEWED: "state", K.WAITING_ON: "who", K.SNOOZED: "until"}[kind]
    return {key: raw[key]} if raw.get(key) is not None else _NO_DETAIL


def load_entries(
    conn: Connection, where: ColumnElement[bool], end: datetime
) -> dict[tuple[str, int], list[EntryRecord]]:
    joined = T.join(I, and_(I.c.repo_full_name == T.c.repo_full_name, I.c.number == T.c.number))
    q = (
        select(T.c.repo_full_name, T.c.number, _ts(conn, T.c.occurred_at), T.c.kind,
               T.c.actor_login, T.c.actor_class, T.c.actor_type,
               case((T.c.kind.in_(_DETAIL_KINDS), cast(T.c.detail, String))))
        .select_from(joined)
        .where(where, T.c.kind.in_(NEEDED_KINDS), T.c.occurred_at <= end)
    )  # fmt: skip
    out: dict[tuple[str, int], list[EntryRecord]] = defaultdict(list)
    for repo, n, at, kind, login, cls, typ, text in _tuples(conn, q):
        detail = _detail(kind, text)
        out[(repo, n)].append(EntryRecord(kind, _utc(at), login, cls, typ, detail))  # type: ignore[arg-type]
    return out


def load_first_seen(
    conn: Connection, org: Owners, logins: Iterable[str], repos: Sequence[str] | None
) -> dict[str, datetime]:
    """Casefolded login -> when their first issue or pull request in the org was opened."""
    out: dict[str, datetime] = {}
    for chunk in _chunks(sorted(set(logins))):
        q = select(I.c.author_login, func.min(_ts(conn, I.c.created_at))).where(
            owned(I.c.owner, org), I.c.author_login.in_(chunk)
        )
        if repos is not None:
            q = q.where(func.lower(I.c.repo_full_name).in_([r.lower() for r in repos]))
        for login, first in conn.execute(q.group_by(I.c.author_login)):
            key, at = str(login).casefold(), _utc(first)
            if at is not None and (key not in out or at < out[key]):
                out[key] = at
    return out


def load_contributions(
    conn: Connection, org: Owners, since: datetime, end: datetime, repos: Sequence[str] | None
) -> list[tuple[str, datetime, str, int, str | None, str | None, list[str]]]:
    """Outside issues and pull requests opened in [since, end): who, when, where, and what
    credits them to an organisation (retention)."""
    q = select(
        I.c.author_login, _ts(conn, I.c.created_at), I.c.repo_full_name, I.c.number,
        I.c.author_company, I.c.author_email_domain,
        case((I.c.author_class == "partner", cast(I.c.labels, String))),  # only partners' count
    ).where(
        owned(I.c.owner, org), I.c.created_at >= since, I.c.created_at < end,
        I.c.author_class.in_(sorted(OUTSIDE)),
    )  # fmt: skip
    if repos is not None:
        q = q.where(func.lower(I.c.repo_full_name).in_([r.lower() for r in repos]))
    out = []
    for login, at, repo, number, company, domain, tags in _tuples(conn, q):
        when = _utc(at)
        if login and when is not None:
            labels = orjson.loads(tags) if tags and tags != "[]" else []
            out.append((str(login), when, str(repo), int(number), company, domain, labels))
    return out


def load_earlier_organisations(
    conn: Connection, org: Owners, before: datetime, affiliation: Affiliation,
    repos: Sequence[str] | None,
) -> frozenset[str]:  # fmt: skip
    """Organisations credited with an outside contribution opened before `before`."""
    labels = case((I.c.author_class == "partner", cast(I.c.labels, String)))
    q = (
        select(
            I.c.author_login,
            I.c.author_company,
            I.c.author_email_domain,
            labels,
            _ts(conn, I.c.created_at),
        )
        .distinct()
        .where(
            owned(I.c.owner, org),
            I.c.created_at < before,
            I.c.author_class.in_(sorted(OUTSIDE)),
        )
    )
    if repos is not None:
        q = q.where(func.lower(I.c.repo_full_name).in_([r.lower() for r in repos]))
    names = set()
    for login, company, domain, label_text, created in conn.execute(q):
        tags = orjson.loads(label_text) if label_text else []
        names.add(affiliation.organisation(login or "", company, domain, tags, _utc(created)))
    return frozenset(names)


def load_declared_affiliations(conn: Connection, org: Owners, affiliation: Affiliation) -> None:
    """Affiliations people declared (`/affiliation`) or that were frozen by pseudonymisation,
    recorded on the timeline of the org's items."""
    joined = T.join(I, and_(I.c.repo_full_name == T.c.repo_full_name, I.c.number == T.c.number))
    q = (
        select(T.c.actor_login, _ts(conn, T.c.occurred_at), cast(T.c.detail, String))
        .select_from(joined)
        .where(owned(I.c.owner, org), T.c.kind == K.AFFILIATION, T.c.actor_login.is_not(None))
    )
    for login, at, text in conn.execute(q):
        organisation = orjson.loads(text or "{}").get("organisation")
        since = _utc(at)
        if isinstance(organisation, str) and organisation and since is not None:
            affiliation.declare(str(login), since, organisation)


def load_repositories(conn: Connection, org: Owners, repos: Sequence[str] | None) -> list[str]:
    c = Repository.__table__.c  # type: ignore[attr-defined]
    q = select(c.full_name).where(owned(c.owner, org), c.removed_at.is_(None))
    names = [str(name) for (name,) in conn.execute(q)]
    if repos is not None:
        wanted = {r.lower() for r in repos}
        names = [n for n in names if n.lower() in wanted]
    return sorted(set(names))


def load_last_responses(
    conn: Connection, org: Owners, repos: Sequence[str], end: datetime
) -> dict[str, datetime]:
    """Last team response to an outside item of each repository, up to `end` (SQL only)."""
    joined = T.join(I, and_(I.c.repo_full_name == T.c.repo_full_name, I.c.number == T.c.number))
    out: dict[str, datetime] = {}
    for chunk in _chunks(sorted(repos)):
        q = (
            select(T.c.repo_full_name, func.max(_ts(conn, T.c.occurred_at)))
            .select_from(joined)
            .where(
                owned(I.c.owner, org),
                I.c.author_class.in_(sorted(OUTSIDE)),
                T.c.repo_full_name.in_(chunk),
                T.c.kind.in_(_RESPONSE_KINDS),
                T.c.actor_class.in_(sorted(INSIDE)),
                T.c.actor_login != I.c.author_login,
                T.c.occurred_at <= end,
            )
            .group_by(T.c.repo_full_name)
        )
        for repo, at in conn.execute(q):
            if (when := _utc(at)) is not None:
                out[str(repo)] = when
    return out


# -- the digest ----------------------------------------------------------------------------


@contextmanager
def collector_paused() -> Iterator[None]:
    """The digest builds a few hundred thousand small objects that all live until it ends;
    the cyclic collector would walk them again and again (a third of the run) and free
    nothing. Paused for the computation only."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _timed(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    if timings is not None:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def digest_weeks(week: str | None, now: datetime, tz: Any) -> list[Week]:
    """The trend weeks (oldest first) ending with `week` (default: the last complete one);
    a week still running ends at `now`."""
    week = normalise_week(week) if week else last_complete_week(now, tz)
    out: list[Week] = []
    for w in weeks_ending(week, TREND_WEEKS):
        start, end = week_bounds(w, tz)
        out.append((w, start, min(end, now.astimezone(tz))))
    if out[-1][1] > now:
        raise ValueError(f"week {week} has not started yet")
    return out


def compute_digest(
    engine: Engine,
    org: str,
    week: str | None = None,
    *,
    now: datetime | None = None,
    configs: ConfigSource = None,
    bot_logins: Iterable[str] = (),
    repos: Sequence[str] | None = None,
    url_base: str | WebLinks | None = "https://github.com",
    timings: dict[str, float] | None = None,
    inputs_out: list[Inputs] | None = None,
) -> Digest:
    """The digest of `org` for ISO `week` (default: the last complete week in the org's
    calendar time zone), from Veilleur's record only.

    `configs`: repository -> config, or one config for every repository; None reads the last
    valid configs stored in the record. `repos`: compute over these repositories only (a
    partial view; "new" contributors and organisations are then judged within them too).
    `timings` (optional) receives the seconds spent per phase; `inputs_out` (optional)
    receives the assembled inputs (tracks included), for the dashboard's weekly aggregates."""
    with collector_paused():
        return _compute(
            engine, org, week, now, configs, bot_logins, repos, url_base, timings, inputs_out
        )


def _compute(
    engine: Engine,
    org: str,
    week: str | None,
    now: datetime | None,
    configs: ConfigSource,
    bot_logins: Iterable[str],
    repos: Sequence[str] | None,
    url_base: str | WebLinks | None,
    timings: dict[str, float] | None,
    inputs_out: list[Inputs] | None = None,
) -> Digest:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with _timed(timings, "configs"):
        owners, cfgs, refused = ospo_configs(engine, org, configs)  # the org, its members
        tz = cfgs.rules(org_config_repo(org)).calendar.tz
    local_weeks = digest_weeks(week, now, tz)
    weeks = [(w, a.astimezone(UTC), b.astimezone(UTC)) for w, a, b in local_weeks]
    start, end = weeks[-1][1], weeks[-1][2]
    window = min(weeks[0][1], end - timedelta(days=INACTIVE_DAYS))
    local_end = local_weeks[-1][2]  # retention weeks counted on the local calendar (DST)
    cohort = (
        (local_end - 2 * RETURN_WINDOW).astimezone(UTC),
        (local_end - RETURN_WINDOW).astimezone(UTC),
    )
    bots = frozenset(b.lower() for b in bot_logins if b)
    affiliation = cfgs.affiliation()
    with engine.connect() as conn:
        load_declared_affiliations(conn, owners, affiliation)
        tracks = build_tracks(conn, owners, weeks, window, repos, bots, cfgs, timings)
        with _timed(timings, "aggregates"):
            names = load_repositories(conn, owners, repos)
            authors = [
                tr.item.author_login
                for tr in tracks
                if tr.item.group == "outside" and tr.item.created_at >= start
            ]
            contributions = load_contributions(conn, owners, cohort[0], end, repos)
            authors += _cohort_candidates(contributions, cohort)
            first_seen = load_first_seen(conn, owners, authors, repos)
            earlier = load_earlier_organisations(conn, owners, start, affiliation, repos)
            quiet = _quiet_repositories(tracks, names, end)
            older = load_last_responses(conn, owners, quiet, end) if quiet else {}
            last_day = (local_weeks[-1][2] - timedelta(microseconds=1)).date()
            first_day = local_weeks[-1][1].date()
            decisions = [d for o in owners for d in load_decisions(conn, o, first_day, last_day)]
    with _timed(timings, "metrics"):
        inputs = Inputs(
            org=org,
            weeks=weeks,
            generated_at=now,
            tracks=tracks,
            rules_for=cfgs.rules,
            affiliation=affiliation,
            first_seen=first_seen,
            earlier_organisations=earlier,
            repos=names,
            last_responses=older,
            url_base=url_base,
            contributions=contributions,
            cohort=cohort,
        )
        result = assemble(inputs)
    if inputs_out is not None:
        inputs_out.append(inputs)
    with _timed(timings, "attention"):
        result.attention = _attention(engine, owners, start, end, bots, cfgs, repos)
    result.start, result.end = local_weeks[-1][1], local_weeks[-1][2]  # shown in local time
    result.attention_decisions = decisions
    result.members, result.members_left_out = list(owners[1:]), len(refused)
    if result.retention is not None:
        kept = result.retention
        kept.cohort_start, kept.cohort_end = (
            kept.cohort_start.astimezone(tz),
            kept.cohort_end.astimezone(tz),
        )
    return result


def _attention(
    engine: Engine,
    org: Owners,
    start: datetime,
    end: datetime,
    bots: frozenset[str],
    cfgs: OrgConfigs,
    repos: Sequence[str] | None,
) -> dict[str, Any]:
    """How much Veilleur said this week, and to whom (bot/digest/attention.py)."""
    from bot.digest.attention_record import recorded_attention

    figures = recorded_attention(
        engine, org, start, end, bots, lambda r: cfgs.rules(r).calendar,
        lambda r: float(cfgs.rules(r).first_response_days), repos,
    )  # fmt: skip
    return figures.to_json() | {"targets": figures.targets()}


def build_tracks(
    conn: Connection,
    org: Owners,
    weeks: Sequence[Week],
    window: datetime,
    repos: Sequence[str] | None,
    bots: frozenset[str],
    cfgs: OrgConfigs,
    timings: dict[str, float] | None = None,
) -> list[Track]:
    """The tracks of the items that can matter (of `repos` only, if given)."""
    start, end = weeks[-1][1], weeks[-1][2]
    where = _item_filter(org, start, end, window, repos)
    with _timed(timings, "items"):
        items = load_items(conn, where)
    with _timed(timings, "entries"):
        entries = load_entries(conn, where, end)
    with _timed(timings, "tracks"):
        return [
            Track(i, entries.get((i.repo, i.number), []), bots, rules=cfgs.rules(i.repo))
            for i in items
        ]


def _cohort_candidates(
    contributions: Sequence[tuple[Any, ...]], cohort: tuple[datetime, datetime]
) -> list[str]:
    """Logins whose earliest contribution of the retention window is in the cohort's weeks:
    only theirs can be first contributions (the others need no first-seen lookup)."""
    earliest: dict[str, tuple[datetime, str]] = {}
    for login, at, *_ in contributions:
        key = login.casefold()
        if key not in earliest or at < earliest[key][0]:
            earliest[key] = (at, login)
    return [login for at, login in earliest.values() if cohort[0] <= at < cohort[1]]


def _quiet_repositories(tracks: Sequence[Track], names: Sequence[str], end: datetime) -> list[str]:
    """Repositories without a response to an outside item in the last 90 days of the tracks:
    their last response is looked up further back in SQL."""
    since = end - timedelta(days=INACTIVE_DAYS)
    latest: dict[str, datetime] = {}
    repos = {n.lower(): n for n in names}
    for tr in tracks:
        if tr.item.group != "outside":
            continue
        repos.setdefault(tr.item.repo.lower(), tr.item.repo)
        at = tr.last_response
        key = tr.item.repo.lower()
        if at is not None and (key not in latest or at > latest[key]):
            latest[key] = at
    return [repo for key, repo in repos.items() if latest.get(key, since) <= since]
