"""The digest a dashboard page shows: computed from Veilleur's record, kept as a weekly
snapshot (`bot.web.snapshots`), and cut down to the repositories the viewer may see.

`compute_digest` (bot/digest/compute.py) reads only the record, never GitHub. Given `repos`,
it computes over those repositories alone, so a partial view's figures (TTFR, organisations,
new contributors…) come only from repositories the viewer may see. A source that cannot
scope (see `load_digest`) has its lists filtered here instead, and the figures that name
organisations withheld unless the viewer sees every repository of the org.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import Request

from bot.digest.model import Digest
from bot.forge.links import WebLinks

# (org, week or None, visible repositories or None for all) -> Digest
DigestSource = Callable[[str, str | None, frozenset[str] | None], Digest]

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def valid_week(week: str) -> bool:
    match = WEEK.match(week)
    if not match:
        return False
    try:
        date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        return False
    return True


def week_of(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def shift_week(week: str, weeks: int) -> str:
    match = WEEK.match(week)
    assert match is not None
    monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    return week_of(monday + timedelta(weeks=weeks))


def last_complete_week(now: datetime) -> str:
    return week_of(now.date() - timedelta(weeks=1))


def links_of(state: Any) -> WebLinks:
    """The deployment's forges on the web (`app.state.links`, set by `bot.app.create_app`)."""
    links = getattr(state, "links", None)
    return links if links is not None else WebLinks.of(state.settings.github_web_url)


def app_bot_logins(state: Any) -> tuple[str, ...]:
    """The App's own login, once the runtime (built on the worker's loop) knows it: its
    comments are never responses."""
    runtime = getattr(state, "runtime", None)
    login = runtime.bot_login if runtime is not None else None
    return (login,) if login else ()


@dataclass(frozen=True)
class Shown:
    """A digest as one viewer sees it."""

    digest: Digest
    withheld: bool = False  # organisation figures hidden (they may come from unseen repos)
    snapshot: Any = None  # the `bot.web.snapshots.Snapshot` it comes from, if any

    def memo(self, name: str, make: Callable[[], Any]) -> Any:
        """`make()`, kept with the snapshot (per digest shown) when there is one."""
        if self.snapshot is None:
            return make()
        return self.snapshot.derived(f"{name}:{id(self.digest)}", make)


def load_digest(
    request: Request, org: str, week: str | None, repos: frozenset[str] | None, complete: bool
) -> Shown:
    """The digest of `org` as the viewer may see it: `_load_digest`, without any login on
    the anonymous public dashboard unless the org's `dashboard.public_people` is true."""
    from bot.web.people import people_hidden, without_people

    hidden = people_hidden(request, org)
    if getattr(request.app.state, "digest_source", None) is None:
        from bot.web.snapshots import store_for

        now = request.app.state.clock.now()
        snap = store_for(request).get(org, week, last_complete_week(now), repos)
        if hidden:  # made once per snapshot, not per request
            digest = snap.derived("without_people", lambda: without_people(snap.digest))
            return Shown(digest, snapshot=snap)
        return Shown(snap.digest, snapshot=snap)  # computed over the visible repositories only
    shown = _load_digest(request, org, week, repos, complete)
    if hidden:
        return replace(shown, digest=without_people(shown.digest))
    return shown


def _load_digest(
    request: Request, org: str, week: str | None, repos: frozenset[str] | None, complete: bool
) -> Shown:
    """The digest of `org` from `app.state.digest_source` (tests), as seen through `repos`
    (None: everything; `complete`: the viewer sees every installed repository of the org).
    The source is called with `repos` only when `app.state.digest_source_scopes` is true."""
    source: DigestSource = request.app.state.digest_source
    scopes = bool(getattr(request.app.state, "digest_source_scopes", False))
    return _shown(source, scopes, org, week, repos, complete)


def _shown(
    source: DigestSource,
    scopes: bool,
    org: str,
    week: str | None,
    repos: frozenset[str] | None,
    complete: bool,
) -> Shown:
    scoped_source = repos is not None and scopes
    digest = source(org, week, repos if scoped_source else None)
    if repos is None:
        return Shown(digest)
    return scope_digest(digest, repos, withhold=not (complete or scoped_source))


def scope_digest(digest: Digest, repos: frozenset[str], *, withhold: bool) -> Shown:
    """Only rows of visible repositories; with `withhold`, no organisation figures."""

    def keep(name: str) -> bool:
        return name.lower() in repos

    scoped = replace(
        digest,
        waiting=[w for w in digest.waiting if keep(w.repo)],
        new_contributors=[c for c in digest.new_contributors if keep(c.repo)],
        repositories=[r for r in digest.repositories if keep(r.repo)],
        retention=digest.retention
        and replace(
            digest.retention,
            contributors=[c for c in digest.retention.contributors if keep(c.repo)],
        ),
    )
    if withhold:
        scoped = replace(scoped, organisations=[], new_organisations=[], elephant_factor=None)
    return Shown(scoped, withheld=withhold)
