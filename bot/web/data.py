"""The digest a dashboard page shows: computed from Veilleur's record, cached briefly, and cut
down to the repositories the viewer may see.

`compute_digest` (bot/digest/compute.py) reads only the record, never GitHub. Given `repos`,
it computes over those repositories alone, so a partial view's figures (TTFR, organisations,
new contributors…) come only from repositories the viewer may see. A source that cannot
scope (see `load_digest`) has its lists filtered here instead, and the figures that name
organisations withheld unless the viewer sees every repository of the org.
"""

from __future__ import annotations

import inspect
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import Request

from bot.digest.model import Digest

# (org, week or None, visible repositories or None for all) -> Digest
DigestSource = Callable[[str, str | None, frozenset[str] | None], Digest]

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
CACHE_SECONDS = 60.0
CACHE_SIZE = 128


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


@dataclass(frozen=True)
class Shown:
    """A digest as one viewer sees it."""

    digest: Digest
    withheld: bool = False  # organisation figures hidden (they may come from unseen repos)


class ComputedDigests:
    """The default source: `compute_digest` on the app's engine."""

    def __init__(self, request: Request) -> None:
        state = request.app.state
        self.engine = state.engine
        self.clock = state.clock
        runtime = getattr(state, "runtime", None)  # set once the worker loop built it
        login = runtime.bot_login if runtime is not None else None
        self.bot_logins: tuple[str, ...] = (login,) if login else ()
        self.url_base: str = state.settings.github_web_url.rstrip("/")

    def __call__(self, org: str, week: str | None, repos: frozenset[str] | None) -> Digest:
        from bot.digest.compute import compute_digest

        kwargs: dict[str, Any] = {
            "now": self.clock.now(),
            "bot_logins": self.bot_logins,
            "url_base": self.url_base,
        }
        if repos is not None:
            kwargs["repos"] = sorted(repos)
        return compute_digest(self.engine, org, week, **kwargs)

    @staticmethod
    def scopes() -> bool:
        from bot.digest.compute import compute_digest

        return accepts_repos(compute_digest)


def accepts_repos(func: Callable[..., Any]) -> bool:
    try:
        return "repos" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


CacheKey = tuple[str, str | None, frozenset[str] | None, bool, datetime]
_cache_lock = threading.Lock()


def _cache(request: Request) -> dict[CacheKey, tuple[float, Shown]]:
    """Per app (kept in `app.state`): entries live a minute of both clocks."""
    state = request.app.state
    with _cache_lock:
        found: dict[CacheKey, tuple[float, Shown]] | None = getattr(state, "digest_cache", None)
        if found is None:
            found = state.digest_cache = {}
        return found


def load_digest(
    request: Request, org: str, week: str | None, repos: frozenset[str] | None, complete: bool
) -> Shown:
    """The digest of `org` as the viewer may see it: `_load_digest`, without any login on
    the anonymous public dashboard unless the org's `dashboard.public_people` is true."""
    shown = _load_digest(request, org, week, repos, complete)
    from bot.privacy.web import people_hidden, without_people

    if people_hidden(request, org):
        return replace(shown, digest=without_people(shown.digest))
    return shown


def _load_digest(
    request: Request, org: str, week: str | None, repos: frozenset[str] | None, complete: bool
) -> Shown:
    """The digest of `org` as seen through `repos` (None: everything; `complete`: the viewer
    sees every installed repository of the org). Blocking: run it in a thread.

    Tests and `veilleur demo` may set `app.state.digest_source` (a `DigestSource`; it is
    called with `repos` only when `app.state.digest_source_scopes` is true)."""
    source: DigestSource | None = getattr(request.app.state, "digest_source", None)
    if source is not None:
        scopes = bool(getattr(request.app.state, "digest_source_scopes", False))
        return _shown(source, scopes, org, week, repos, complete)
    computed = ComputedDigests(request)
    minute = computed.clock.now().replace(second=0, microsecond=0)
    key = (org.lower(), week, repos, complete, minute)
    cache = _cache(request)
    with _cache_lock:
        hit = cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    shown = _shown(computed, computed.scopes(), org, week, repos, complete)
    with _cache_lock:
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        cache[key] = (time.monotonic() + CACHE_SECONDS, shown)
    return shown


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
