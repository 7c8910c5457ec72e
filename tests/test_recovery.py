"""Missed-delivery recovery against the simulated forge: the App's delivery log (JWT, cursor
pages), a 24-hour window, one redelivery per missing GUID, never asked twice."""

from __future__ import annotations

from datetime import timedelta

from bot.intake.recovery import find_missed, recover
from tests.harness import City, Harness

TEXT = "The map of the city does not load on my phone since the last update. Could you look?"
DEAD = "http://127.0.0.1:9/webhooks/github"  # nothing listens: GitHub records a failure


def run_recovery(h: Harness, **kw: object) -> object:
    runtime = h.worker.runtime
    return h.worker.call(recover(runtime.app_client, h.engine, h.clock.now(), **kw), timeout=30)


def asked(h: Harness) -> int:
    return len(h.forge.requests_to("/app/hook/deliveries/{delivery_id}/attempts", "POST"))


def test_missed_deliveries_in_the_window_are_redelivered_once(harness: Harness, city: City) -> None:
    h, forge = harness, harness.forge
    url = forge.webhook_url
    forge.webhook_url = DEAD
    old = forge.scenario.open_issue(city.repo, city.citizen_fr, "Carte", TEXT)  # out of window
    h.clock.advance(timedelta(hours=25))
    missed = [
        forge.scenario.open_issue(city.repo, login, "Map is broken", TEXT)
        for login in (city.citizen_en, city.citizen_nl)
    ]
    forge.webhook_url = url
    failed = [d.guid for d in forge.events("issues", "opened")][1:]

    report = run_recovery(h, per_page=2)  # several cursor pages
    assert sorted(m.guid for m in report.redelivered) == sorted(failed)  # type: ignore[attr-defined]
    assert {m.reason for m in report.redelivered} == {"failed"}  # type: ignore[attr-defined]
    cursors = [r for r in forge.requests_to("/app/hook/deliveries", "GET") if "cursor=" in r.query]
    assert cursors
    forge.settle()
    h.wait()
    assert h.failures() == []
    for n in missed:
        assert len([c for c in h.comments(city.repo, n) if "veilleur:welcome:" in c.body]) == 1
    assert h.comments(city.repo, old) == []  # older than 24 h: left alone
    assert len(h.action_keys("redeliver:")) == 2

    # now stored: nothing more to ask
    assert run_recovery(h).redelivered == []  # type: ignore[attr-defined]
    assert asked(h) == 2


def test_a_redelivery_that_fails_again_is_not_asked_again(harness: Harness, city: City) -> None:
    h, forge = harness, harness.forge
    url = forge.webhook_url
    forge.webhook_url = DEAD
    forge.scenario.open_issue(city.repo, city.citizen_en, "Map is broken", TEXT)
    first = run_recovery(h)
    forge.settle()  # the redelivery fails too: the endpoint is still down
    second = run_recovery(h)
    assert len(first.redelivered) == 1 and second.redelivered == []  # type: ignore[attr-defined]
    assert second.already_asked == 1  # type: ignore[attr-defined]
    assert asked(h) == 1
    forge.webhook_url = url


def test_find_missed_is_pure() -> None:
    attempts = [
        {"id": 5, "guid": "a", "event": "issues", "status": "OK", "status_code": 202},
        {"id": 4, "guid": "b", "event": "issues", "status": "Invalid HTTP Response: 503",
         "status_code": 503},
        {"id": 6, "guid": "b", "event": "issues", "status": "failed to connect", "status_code": 0},
        {"id": 3, "guid": "c", "event": "issues", "status": "OK", "status_code": 202},
        {"id": 2, "guid": "p", "event": "ping", "status": "timed out", "status_code": 0},
    ]  # fmt: skip
    missed = find_missed(attempts, known={"a"})
    assert [(m.guid, m.delivery_id, m.reason) for m in missed] == [
        ("c", 3, "missing"),
        ("b", 6, "failed"),
    ]
