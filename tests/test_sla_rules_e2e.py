"""Issue #12 rules over the simulated forge, where the path through Veilleur matters:
`awaiting-author` set by Veilleur itself, draft pull requests, and machine users."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.messages.templating import T
from tests.harness import CITY_CONFIG, City, Harness, seed_city

PARIS = ZoneInfo("Europe/Paris")
MON = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)  # Monday 2 March 2026
REMINDER = f"veilleur-template:{T.REMINDER}/"
REQUEST_INFO = f"veilleur-template:{T.REQUEST_INFO_ISSUE}/"


def reminders(h: Harness, repo: str, n: int) -> list[Any]:
    return [c for c in h.comments(repo, n) if REMINDER in c.body]


def test_awaiting_author_set_by_veilleur_stops_the_clock_until_the_author_answers(
    harness: Harness, city: City
) -> None:
    h = harness
    h.clock.set(MON)
    n = h.forge.scenario.open_issue(city.repo, city.citizen_en, "Map broken", "It fails.")
    h.wait()
    assert any(REQUEST_INFO in c.body for c in h.comments(city.repo, n))
    assert "awaiting-author" in h.labels(city.repo, n)  # set by Veilleur
    h.sweep(MON + timedelta(days=15))  # three weeks of silence from the author
    assert reminders(h, city.repo, n) == []
    assert "overdue" not in h.labels(city.repo, n)
    h.clock.set(MON + timedelta(days=15, hours=1))
    h.forge.scenario.comment(
        city.repo, n, city.citizen_en, "On Firefox, the map stays grey when I zoom in."
    )
    h.wait()
    h.sweep(MON + timedelta(days=16, hours=2))  # one business day later: not yet
    assert reminders(h, city.repo, n) == []
    h.sweep(MON + timedelta(days=17, hours=3))  # past the 2-day SLA since the answer
    assert len(reminders(h, city.repo, n)) == 1


def test_a_draft_pull_request_waits_from_ready_for_review_on(harness: Harness, city: City) -> None:
    h = harness
    h.clock.set(MON)
    n = h.forge.scenario.open_pull(
        city.repo, city.citizen_en, "Zoom fix", "Work in progress on the zoom of the map.",
        files={"tests/test_zoom.py": "def test_zoom(): pass\n"}, draft=True,
    )  # fmt: skip
    h.wait()
    h.sweep(MON + timedelta(days=7))
    assert reminders(h, city.repo, n) == []
    h.clock.set(MON + timedelta(days=7, hours=1))  # Monday of week 2
    h.forge.scenario.ready_for_review(city.repo, n, city.citizen_en)
    h.wait()
    h.sweep(MON + timedelta(days=8, hours=2))  # 1 business day since ready: not yet
    assert reminders(h, city.repo, n) == []
    h.sweep(MON + timedelta(days=9, hours=2))  # past 2 business days
    assert len(reminders(h, city.repo, n)) == 1


def test_a_machine_user_in_bots_logins_is_never_a_responder_nor_a_contributor(
    harness_factory: Any, forge: Any
) -> None:
    config = CITY_CONFIG + "bots:\n  logins: [robot-ville, scan-robot]\n"
    city = seed_city(forge, config)
    forge.add_user("robot-ville")
    forge.add_user("scan-robot")  # an outside machine user: would be an external contributor
    forge.add_member(city.org, "robot-ville")  # an ordinary member account
    forge.set_permission(city.repo, "robot-ville", "write")
    h = harness_factory()
    forge.scenario.install(city.org)
    h.wait()
    h.clock.set(MON)
    n = forge.scenario.open_issue(
        city.repo, city.citizen_en, "Map is broken",
        "The map of the city does not load on my phone when I zoom in on my district.",
    )  # fmt: skip
    h.wait()
    h.clock.set(MON + timedelta(hours=1))
    forge.scenario.comment(city.repo, n, "robot-ville", "Automatic check: build passed.")
    own = forge.scenario.open_issue(
        city.repo, "scan-robot", "Weekly report",
        "Automatic weekly report of the city's dependency updates, nothing to do.",
    )  # fmt: skip
    h.wait()
    assert h.comments(city.repo, own) == []  # never acted on: no welcome, no labels
    assert h.labels(city.repo, own) == set()
    h.sweep(MON + timedelta(days=3))
    assert len(reminders(h, city.repo, n)) == 1  # the robot's comment answered nobody
