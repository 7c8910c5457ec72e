"""New contributors' fate beyond their first item: did they come back with a second
contribution within 12 weeks (CHAOSS retention)? Digest week 2026-W29 ends on Monday 20 July
2026 00:00 (Paris), so its cohort is the new contributors of 2 February to 26 April 2026."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.digest.model import Retention, Returner
from bot.digest.render import render_digest
from tests.digest_records import Record, paris
from tests.test_digest import DORMANT, LUTECE, afterwards, digest
from tests.test_digest import record as record  # noqa: F401 (fixture)
from tests.web_fixtures import NOW, make_digest
from tests.web_fixtures import web_factory as web_factory  # noqa: F401 (fixture)


def seed_cohort(rec: Record) -> None:
    item = rec.item
    item(LUTECE, 20, "ana", "external", paris(2026, 2, 10, 10), company="Acme")
    item(DORMANT, 21, "ana", "external", paris(2026, 4, 20, 10))  # 69 days later, elsewhere
    item(LUTECE, 22, "ben", "external", paris(2026, 3, 2, 10))
    item(LUTECE, 23, "ben", "external", paris(2026, 7, 1, 10))  # 121 days later: too late
    item(LUTECE, 24, "cleo", "external", paris(2026, 4, 20, 10))  # never again
    item(LUTECE, 25, "dan", "external", paris(2026, 2, 1, 23, 30))  # before the cohort
    item(LUTECE, 26, "dan", "external", paris(2026, 2, 3, 10))
    item(LUTECE, 27, "eve", "partner", paris(2026, 4, 26, 23))  # the cohort's last hour
    item(LUTECE, 28, "eve", "external", paris(2026, 7, 15, 10))  # 80 days later
    item(LUTECE, 29, "finn", "external", paris(2025, 12, 1, 10))  # not new in the cohort
    item(LUTECE, 30, "finn", "external", paris(2026, 3, 1, 10))
    item(LUTECE, 31, "hugo", "maintainer", paris(2026, 3, 1, 10))  # inside: not counted
    item(LUTECE, 32, "hugo", "maintainer", paris(2026, 3, 2, 10))
    item(LUTECE, 33, "dependabot[bot]", "bot", paris(2026, 3, 1, 10))


def test_who_came_back_within_twelve_weeks(record: Record) -> None:
    seed_cohort(record)
    r = digest(record).retention
    assert r is not None
    assert (r.cohort_start, r.cohort_end) == (paris(2026, 2, 2), paris(2026, 4, 27))
    assert [(c.login, c.came_back) for c in r.contributors] == [
        ("ana", True), ("ben", False), ("cleo", False), ("eve", True),
    ]  # fmt: skip
    ana = r.contributors[0]
    assert (ana.repo, ana.number, ana.organisation) == (LUTECE, 20, "Acme")
    assert ana.second_at == paris(2026, 4, 20, 10)
    assert (r.new, r.came_back, r.share) == (4, 2, 0.5)
    data = digest(record).to_json()["metrics"]["retention"]
    assert (data["new_contributors"], data["came_back"], data["share"]) == (4, 2, 0.5)


def test_a_past_week_keeps_its_retention(record: Record) -> None:
    seed_cohort(record)
    before = digest(record).to_json()
    afterwards(record)
    record.item(LUTECE, 40, "cleo", "external", paris(2026, 7, 21, 10))  # after the week
    assert digest(record).to_json() == before
    later = digest(record, "2026-W30").retention  # running: 24 to 12 weeks before now
    assert later is not None and later.cohort_start == paris(2026, 2, 4, 12)
    assert [(c.login, c.came_back) for c in later.contributors] == [
        ("ana", True),
        ("ben", False),
        ("cleo", False),
        ("eve", True),
    ]  # fmt: skip  (cleo's second contribution came 13 weeks after her first)


def test_shown_in_the_digest_text(record: Record) -> None:
    seed_cohort(record)
    d = digest(record)
    md = render_digest(d, "md", "en")
    assert "of the new contributors of 2 February 2026 to 26 April 2026: 2 of 4 (50%)" in md
    fr = render_digest(d, "html", "fr")
    assert "du 2 février 2026 au 26 avril 2026 : 2 sur 4 (50\u00a0%)" in fr


def test_shown_on_the_dashboard(web_factory: Any) -> None:
    w = web_factory(dashboard_open=True)
    d = make_digest("paris", None)
    first = NOW - timedelta(weeks=20)
    d.retention = Retention(
        NOW - timedelta(weeks=24),
        NOW - timedelta(weeks=12),
        [
            Returner("ana", "acme", "paris/site", 3, first, True, first + timedelta(days=9)),
            Returner("ben", "independent", "paris/site", 4, first, False),
            Returner("zed", "independent", "paris/interne", 5, first, True, first),
        ],
    )
    w.app.state.digest_source = lambda org, week, repos: d
    page = w.client.get("/orgs/paris", params={"lang": "en"}).text
    assert "Did they come back?" in page and ": 2 of 3 opened a second contribution" in page
    assert page.count(">came back<") == 2 and page.count(">did not come back<") == 1
    api = w.client.get("/api/orgs/paris/digest").json()["metrics"]["retention"]
    assert (api["new_contributors"], api["came_back"]) == (3, 2)
