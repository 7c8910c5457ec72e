"""Weekly digest publication through the simulated forge: one issue in `ospo.repository` and
one mail (real SMTP on loopback) per org and week, whatever the ticks, restarts and races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from bot import periodic as jobs
from bot.digest.publish import claim, digest_marker
from bot.storage.models import DigestPublication
from tests.harness import CITY_CONFIG, City, Harness

PARIS = ZoneInfo("Europe/Paris")
MON = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)  # week 2026-W10
PUBLISH = datetime(2026, 3, 9, 9, 10, tzinfo=PARIS)  # the following Monday, after 09:00
TITLE = "[Veilleur] Synthèse hebdomadaire pour paris, 2026-W10"
BODIES = [
    "The map of the city does not load on my phone.",
    "De kaart van de stad laadt niet op mijn telefoon.",
    "La carte des écoles ne s'affiche plus depuis hier soir.",
]
DIGEST = """\
digest:
  enabled: true
  schedule: {day: mon, hour: 9}
  emails: [ospo-digest@paris.example]
  language: fr
"""


from tests.smtp_fixtures import Inbox  # noqa: E402  (the `smtp` fixture comes from conftest)


@pytest.fixture
def h(harness_factory: Any, city: City, forge: Any, smtp: tuple[Inbox, int]) -> Harness:
    forge.set_file(city.repo, ".github/veilleur.yml", CITY_CONFIG + DIGEST)
    harness = harness_factory(smtp_host="127.0.0.1", smtp_port=smtp[1])
    forge.scenario.install(city.org)
    harness.wait()
    return harness


def week_of_contributions(h: Harness, city: City) -> None:
    s = h.forge.scenario
    h.clock.set(MON)
    answered = s.open_issue(city.repo, city.citizen_en, "Map is broken", BODIES[0])
    h.wait()
    h.clock.set(MON + timedelta(hours=1))
    s.comment(city.repo, answered, city.maintainer, "Thanks, we are looking into it.")
    h.wait()
    h.clock.set(MON + timedelta(days=1))
    s.open_issue(city.repo, city.citizen_nl, "Kaart", BODIES[1])
    h.wait()
    h.clock.set(MON + timedelta(days=2))
    s.open_issue(city.repo, city.partner_user, "Carte des écoles", BODIES[2])
    h.wait()


def tick(h: Harness, at: datetime | None = None) -> None:
    if at is not None:
        h.clock.set(at)
    h.worker.call(jobs.digest_publication(h.worker.runtime, h.clock), timeout=60)
    h.wait()


def digest_issues(h: Harness, city: City) -> list[Any]:
    return h.issues_titled(city.ospo_repo, TITLE)


def another_process(h: Harness, harness_factory: Any, smtp_port: int) -> Harness:
    """A second Veilleur server on the same database (a restart, or a second replica)."""
    url = h.settings.database_url
    return harness_factory(database_url=url, smtp_host="127.0.0.1", smtp_port=smtp_port)


def test_published_once_as_an_issue_and_a_mail(
    h: Harness, city: City, smtp: Any, harness_factory: Any
) -> None:
    inbox, _ = smtp
    week_of_contributions(h, city)
    tick(h, PUBLISH - timedelta(minutes=40))  # Monday 08:30: not yet
    assert digest_issues(h, city) == [] and inbox.messages == []
    tick(h, PUBLISH)
    tick(h, PUBLISH + timedelta(hours=1))  # the next hourly tick
    (issue,) = digest_issues(h, city)
    assert digest_marker("paris", "2026-W10") in issue.body
    assert "veilleur-template:digest/report/fr" in issue.body
    assert "paris/lutece-core#" in issue.body and "Délai de première réponse" in issue.body
    assert len(inbox.messages) == 1
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["ospo-digest@paris.example"]
    assert msg["Subject"] == TITLE
    parts = {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}
    assert "du 2 mars 2026 au 8 mars 2026" in parts["text/plain"]
    assert "de lea (partenaire)" in parts["text/plain"]  # the author class in words, not `partner`
    assert "Toujours en attente : 2" in parts["text/plain"]
    assert "<h1>Santé des contributions de paris, 2026-W10</h1>" in parts["text/html"]
    with Session(h.engine) as s:
        row = s.get(DigestPublication, ("paris", "2026-W10"))
    assert row is not None and row.issue_number == issue.number and row.emailed
    # A restart: a new Veilleur process on the same database, new job objects.
    restarted = another_process(h, harness_factory, smtp[1])
    tick(restarted, PUBLISH + timedelta(hours=2))
    assert len(digest_issues(h, city)) == 1 and len(inbox.messages) == 1
    assert h.failures() == [] and restarted.failures() == []


def test_two_processes_ticking_at_once_publish_once(
    h: Harness, city: City, smtp: Any, harness_factory: Any
) -> None:
    inbox, port = smtp
    week_of_contributions(h, city)
    other = another_process(h, harness_factory, port)
    h.clock.set(PUBLISH)
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(tick, h), pool.submit(tick, other)]:
            done.result()
    assert len(digest_issues(h, city)) == 1
    assert len(inbox.messages) == 1


def test_an_unfinished_claim_is_taken_over_after_the_lease(
    h: Harness, city: City, smtp: Any
) -> None:
    inbox, _ = smtp
    week_of_contributions(h, city)
    assert claim(h.engine, "paris", "2026-W10", PUBLISH)  # a process that then crashed
    tick(h, PUBLISH + timedelta(minutes=10))  # still leased: nothing
    assert digest_issues(h, city) == [] and inbox.messages == []
    tick(h, PUBLISH + timedelta(minutes=45))
    assert len(digest_issues(h, city)) == 1 and len(inbox.messages) == 1
