"""The dashboard's weekly snapshots: one digest and its weekly aggregates per (org, week,
visible repositories), computed once per week and again only when the record changed.

A digest of a large org takes seconds (`bench/digest.py`); a page must answer in
milliseconds. So a snapshot is kept (per app, a few dozen at most) and each request only
checks a cheap change marker (the highest timeline and item ids and the last config fetch,
read at most every `MARKER_SECONDS`). When the record changed, the page is served from the
snapshot it has while one background thread computes the new one (at most once every
`REFRESH_SECONDS` per snapshot), so no request waits for a recomputation it did not start.
Only the very first request of a snapshot computes it in line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.digest.model import Digest
from bot.forge.links import WebLinks
from bot.storage.models import ConfigRecord, Item, TimelineEntry
from bot.web.aggregates import Aggregates, outside_authors, weekly_aggregates

log = logging.getLogger(__name__)

MARKER_SECONDS = 2.0
REFRESH_SECONDS = 300.0
SIZE = 8  # a snapshot of a 200,000-item org holds about 50 MB

Key = tuple[str, str, frozenset[str] | None]
Marker = tuple[Any, ...]


@dataclass(frozen=True)
class Snapshot:
    digest: Digest
    agg: Aggregates
    marker: Marker
    computed_at: float  # time.monotonic()
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def derived(self, name: str, make: Callable[[], Any]) -> Any:
        """A view of this snapshot made once (the digest without names, waits by
        repository...): pages read it many times a week."""
        found = self._memo.get(name, _MISSING)
        if found is _MISSING:
            found = self._memo[name] = make()
        return found

    def waiting_of(self, repo: str) -> list[Any]:
        """The waiting items of one repository (lower-case name), longest wait first."""
        by_repo = self.derived("waiting_by_repo", self._waiting_by_repo)
        return list(by_repo.get(repo.lower(), []))

    def _waiting_by_repo(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for w in self.digest.waiting:
            out.setdefault(w.repo.lower(), []).append(w)
        return out


_MISSING = object()


def record_marker(engine: Engine) -> Marker:
    """Changes whenever an item or timeline entry is added or a config is fetched again."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                select(func.max(TimelineEntry.id)).scalar_subquery(),
                select(func.max(Item.id)).scalar_subquery(),
                select(func.max(ConfigRecord.fetched_at)).scalar_subquery(),
                select(func.count()).select_from(Item).scalar_subquery(),
            )
        ).one()
    return tuple(row)


def compute_snapshot(
    engine: Engine,
    org: str,
    week: str | None,
    repos: frozenset[str] | None,
    *,
    now: datetime,
    bot_logins: tuple[str, ...] = (),
    url_base: str | WebLinks | None = "https://github.com",
) -> Snapshot:
    from bot.digest.assemble import Inputs
    from bot.digest.compute import collector_paused, compute_digest, load_first_seen

    marker = record_marker(engine)
    inputs: list[Inputs] = []
    scoped = sorted(repos) if repos is not None else None
    digest = compute_digest(
        engine, org, week, now=now, bot_logins=bot_logins, repos=scoped, url_base=url_base,
        inputs_out=inputs,
    )  # fmt: skip
    with engine.connect() as conn:
        first_seen = load_first_seen(conn, org, outside_authors(inputs[0]), scoped)
    with collector_paused():  # as the digest: many small objects, all kept to the end
        agg = weekly_aggregates(inputs[0], first_seen)
    return Snapshot(digest, agg, marker, time.monotonic())


Compute = Callable[[str, str | None, frozenset[str] | None], Snapshot]


class SnapshotStore:
    """Snapshots of one app (thread-safe; pages call `get` from worker threads)."""

    def __init__(
        self,
        engine: Engine,
        compute: Compute,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        marker_seconds: float = MARKER_SECONDS,
        size: int = SIZE,
    ) -> None:
        self.engine = engine
        self.compute = compute
        self.refresh_seconds = refresh_seconds
        self.marker_seconds = marker_seconds
        self.size = size
        self._lock = threading.Lock()
        self._key_locks: dict[Key, threading.Lock] = {}
        self._items: OrderedDict[Key, Snapshot] = OrderedDict()
        self._refreshing: set[Key] = set()
        self._marker: tuple[float, Marker] | None = None
        self._facts: dict[tuple[str, ...], tuple[Marker, Any]] = {}
        self.computations = 0  # for tests and the benchmark

    def marker(self) -> Marker:
        now = time.monotonic()
        with self._lock:
            cached = self._marker
        if cached is not None and now - cached[0] < self.marker_seconds:
            return cached[1]
        value = record_marker(self.engine)
        with self._lock:
            self._marker = (now, value)
        return value

    def cached(self, name: tuple[str, ...], make: Callable[[], Any]) -> Any:
        """`make()`, made again only when the record changed (small facts read per request,
        such as an org's privacy setting)."""
        marker = self.marker()
        with self._lock:
            hit = self._facts.get(name)
        if hit is not None and hit[0] == marker:
            return hit[1]
        value = make()
        with self._lock:
            if len(self._facts) > 4 * self.size:
                self._facts.clear()
            self._facts[name] = (marker, value)
        return value

    def get(
        self, org: str, week: str | None, latest: str, repos: frozenset[str] | None
    ) -> Snapshot:
        """The snapshot of `org` for `week` (None: the latest complete week, named `latest`)."""
        key: Key = (org.lower(), week or f"latest:{latest}", repos)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
        if found is None:
            return self._compute_once(key, org, week, repos)
        if found.marker != self.marker():
            self._refresh_later(key, org, week, repos, found)
        return found

    def _compute_once(
        self, key: Key, org: str, week: str | None, repos: frozenset[str] | None
    ) -> Snapshot:
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # concurrent first requests wait for one computation
            with self._lock:
                found = self._items.get(key)
            if found is not None:
                return found
            return self._store(key, self.compute(org, week, repos))

    def _store(self, key: Key, snap: Snapshot) -> Snapshot:
        with self._lock:
            self._items[key] = snap
            self._items.move_to_end(key)
            self.computations += 1
            while len(self._items) > self.size:
                old, _ = self._items.popitem(last=False)
                self._key_locks.pop(old, None)
        return snap

    def _refresh_later(
        self, key: Key, org: str, week: str | None, repos: frozenset[str] | None, old: Snapshot
    ) -> None:
        if time.monotonic() - old.computed_at < self.refresh_seconds:
            return
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def work() -> None:
            try:
                self._store(key, self.compute(org, week, repos))
            except Exception:  # a failed refresh keeps the old snapshot
                log.exception("dashboard snapshot of %s could not be refreshed", org)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=work, name=f"snapshot-{org}", daemon=True).start()

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until no refresh runs (tests, benchmark)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._refreshing:
                    return
            time.sleep(0.01)


_store_lock = threading.Lock()


def store_for(request: Any) -> SnapshotStore:
    """The app's store (made on first use, kept in `app.state.snapshots`)."""
    state = request.app.state
    with _store_lock:
        store: SnapshotStore | None = getattr(state, "snapshots", None)
        if store is None:
            engine, clock = state.engine, state.clock
            from bot.web.data import app_bot_logins, links_of

            bots = app_bot_logins(state)
            url_base = links_of(state)

            def compute(org: str, week: str | None, repos: frozenset[str] | None) -> Snapshot:
                return compute_snapshot(
                    engine, org, week, repos, now=clock.now(), bot_logins=bots, url_base=url_base
                )

            store = state.snapshots = SnapshotStore(engine, compute)
        return store
