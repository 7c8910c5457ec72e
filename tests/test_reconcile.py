"""The record matches GitHub: installations and repositories reconciled at start and hourly,
repositories recorded from any webhook naming them, and live items reminded however late
their repository was learned."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot.dispatch import sightings
from bot.dispatch.context import Event
from bot.messages.templating import T
from bot.periodic import reconcile_record
from bot.storage.db import make_engine
from bot.storage.models import Installation, Item, Repository, TimelineEntry
from tests.conftest import WEBHOOK_EXAMPLES
from tests.harness import City, Harness

PARIS = ZoneInfo("Europe/Paris")
MON = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
REMINDER = f"veilleur-template:{T.REMINDER}/"


def repos(h: Harness) -> dict[str, Repository]:
    with Session(h.engine) as s:
        return {r.full_name: r for r in s.exec(select(Repository))}


def until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def reconcile_now(h: Harness) -> None:
    h.worker.call(reconcile_record(h.worker.runtime, h.clock), timeout=30)


def test_an_installation_whose_webhook_was_lost_is_found_at_start(
    harness_factory: Any, city: City, forge: Any
) -> None:
    inst = forge.install(city.org, [city.repo])  # no `installation` delivery reaches Veilleur
    h = harness_factory()
    until(lambda: city.repo in repos(h))  # the reconciliation that runs at start
    row = repos(h)[city.repo]
    assert row.installation_id == inst.id and row.removed_at is None
    assert city.ospo_repo not in repos(h)  # not selected
    with Session(h.engine) as s:
        assert s.get(Installation, inst.id).account_login == city.org  # type: ignore[union-attr]
    assert [r.full_name for r in _sweeper(h).repositories(city.org)] == [city.repo]
    # later the selection changes on GitHub, and that delivery is lost too
    inst.repos = {city.ospo_repo.lower()}
    reconcile_now(h)
    now = repos(h)
    assert now[city.repo].removed_at is not None and now[city.ospo_repo].removed_at is None
    # and an uninstallation nobody heard of
    forge.installations.pop(inst.id)
    reconcile_now(h)
    with Session(h.engine) as s:
        assert s.get(Installation, inst.id).deleted_at is not None  # type: ignore[union-attr]
    assert repos(h)[city.ospo_repo].removed_at is not None


def _sweeper(h: Harness) -> Any:
    from bot.periodic import sweeper_for

    return sweeper_for(h.worker.runtime)


def test_an_item_seen_opened_live_is_reminded_even_if_its_repository_was_learned_late(
    harness: Harness, city: City
) -> None:
    h = harness
    h.clock.set(MON)
    live = h.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Map is broken",
        "The map of the city does not load on my phone when I zoom in on my district.",
    )
    h.wait()
    url, h.forge.webhook_url = h.forge.webhook_url, None  # an issue Veilleur never heard of
    old = h.forge.scenario.open_issue(city.repo, city.citizen_nl, "Old", "Opened long ago.")
    h.forge.settle()
    h.forge.webhook_url = url
    with Session(h.engine) as s:  # history imported by the backfill: opened before, not seen
        s.add(
            Item(
                repo_full_name=city.repo, owner=city.org, number=old, kind="issue",
                title="Old", author_login=city.citizen_nl, author_class="external",
                created_at=MON - timedelta(days=30),
            )
        )  # fmt: skip
        s.add(
            TimelineEntry(
                repo_full_name=city.repo, number=old, occurred_at=MON - timedelta(days=30),
                kind="opened", actor_login=city.citizen_nl, source_key="opened",
            )
        )  # fmt: skip
        row = s.exec(select(Repository).where(Repository.full_name == city.repo)).one()
        row.added_at = MON + timedelta(hours=1)  # learned after the item was opened
        s.add(row)
        s.commit()
    h.sweep(MON + timedelta(days=3))
    assert [c for c in h.comments(city.repo, live) if REMINDER in c.body]
    waiting = h.issues_titled(
        city.repo, "Contributions en attente de réponse"
    )  # the city writes French
    assert waiting and f"#{old}" in waiting[0].body  # the backlog is listed, never reminded
    assert not h.action_keys(f"sla:{city.repo}#{old}:")


# -- any webhook that names a repository -------------------------------------------------------


@pytest.fixture
def engine(migrated: str) -> Any:
    eng = make_engine(migrated)
    yield eng
    eng.dispose()


def _event(event: str, name: str) -> Event:
    payload = json.loads((WEBHOOK_EXAMPLES / event / f"{name}.payload.json").read_text())
    inst = (payload.get("installation") or {}).get("id")
    return Event(event, payload.get("action"), "guid", payload, inst)


@pytest.mark.parametrize(
    "event,name",
    [
        ("issues", "assigned.with-installation"),
        ("pull_request", "ready_for_review.with-installation"),
    ],
)
def test_a_webhook_naming_a_repository_and_its_installation_records_it(
    engine: Any, event: str, name: str
) -> None:
    ev = _event(event, name)
    seen = sightings.parse(ev)
    assert seen is not None and seen.full_name == ev.payload["repository"]["full_name"]
    now = datetime(2026, 3, 2, 9, tzinfo=PARIS)
    assert sightings.record(engine, ev, now)
    assert not sightings.record(engine, ev, now + timedelta(hours=1))  # known: nothing to do
    with Session(engine) as s:
        (row,) = s.exec(select(Repository))
        assert (row.full_name, row.installation_id) == (seen.full_name, seen.installation_id)
        assert row.added_at == now and row.removed_at is None
        assert s.get(Installation, seen.installation_id) is not None


def test_a_webhook_without_installation_or_a_deleted_repository_records_nothing() -> None:
    assert sightings.parse(_event("issues", "assigned")) is None  # no installation
    deleted = _event("issues", "assigned.with-installation")
    gone = Event("repository", "deleted", "g", deleted.payload, deleted.installation_id)
    assert sightings.parse(gone) is None


def test_the_first_webhook_of_a_repository_nobody_announced_records_it(
    harness_factory: Any, city: City, forge: Any
) -> None:
    inst = forge.install(city.org)  # no `installation` delivery
    forge.inject("GET", r"/installation/repositories$", status=404, times=1000)  # nor a list
    h = harness_factory()
    until(lambda: any(r.path == "/installation/repositories" for r in list(forge.requests)))
    h.wait()
    assert city.repo not in repos(h)
    h.clock.set(MON)
    forge.scenario.open_issue(
        city.repo, city.citizen_en, "Map is broken",
        "The map of the city does not load on my phone when I zoom in on my district.",
    )  # fmt: skip
    h.wait()
    row = repos(h)[city.repo]
    assert row.installation_id == inst.id and row.added_at == MON
    assert [r.full_name for r in _sweeper(h).repositories(city.org)] == [city.repo]
