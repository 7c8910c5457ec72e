"""Repository health flags, as the README defines them, in the digest and on the dashboard:
"unanswered" (red: an outside item waits since over 90 days and nobody answered any for 90
days), "quiet" (no outside item open in the last 90 days) and "active" (anything else)."""

from __future__ import annotations

from typing import Any

from bot.digest.assemble import ACTIVE, QUIET, UNANSWERED
from tests.digest_records import Record, paris
from tests.test_digest import CONFIG, LUTECE, M, digest
from tests.test_digest import record as record  # noqa: F401 (fixture)
from tests.web_fixtures import make_digest
from tests.web_fixtures import web_factory as web_factory  # noqa: F401 (fixture)

QUICK, EMPTY, ANSWERED, OLD = "paris/quick", "paris/empty", "paris/answered", "paris/old"


def seed_more(rec: Record) -> None:
    for name in ("quick", "empty", "answered", "old"):
        rec.repo(name)
    # The only item of `quick` waited 0.58 business days at the week's end.
    rec.item(QUICK, 1, "nora", "external", paris(2026, 7, 17, 10))
    # `answered`: opened 150 days before, waiting, but a maintainer answered another item
    # 10 days ago.
    rec.item(ANSWERED, 1, "ivo", "external", paris(2026, 2, 20, 10))
    rec.item(ANSWERED, 2, "ivo", "external", paris(2026, 7, 1, 10))
    rec.comment(ANSWERED, 2, paris(2026, 7, 10, 10), "marie", M, "Done, thanks.")
    rec.event(ANSWERED, 2, paris(2026, 7, 10, 11), "closed", "marie", M)
    # `old`: one item, answered and closed in January: nothing open since.
    rec.item(OLD, 1, "ugo", "external", paris(2026, 1, 5, 10))
    rec.comment(OLD, 1, paris(2026, 1, 6, 10), "marie", M, "Fixed.")
    rec.event(OLD, 1, paris(2026, 1, 6, 11), "closed", "marie", M)


def test_each_flag_on_a_hand_checked_record(record: Record) -> None:
    seed_more(record)
    configs = dict.fromkeys(["paris/lutece", "paris/dormant", QUICK, EMPTY, ANSWERED, OLD], CONFIG)
    health = {r.repo: r for r in digest(record, configs=configs).repositories}
    expected = {
        "paris/dormant": UNANSWERED,  # waits since January; last answer on 2 January
        LUTECE: ACTIVE,
        QUICK: ACTIVE,  # was red "no response in 90 days" after 0.6 days
        ANSWERED: ACTIVE,  # an old wait, but the team answered within 90 days
        EMPTY: QUIET,  # was "active" without any activity
        OLD: QUIET,  # nothing open in the last 90 days
    }
    assert {repo: health[repo].status for repo in expected} == expected
    assert [r for r, h in health.items() if h.inactive] == ["paris/dormant"]
    assert health[QUICK].oldest_wait_business_days == 0.58


def test_the_dashboard_shows_each_flag(web_factory: Any) -> None:
    w = web_factory(dashboard_open=True)
    d = make_digest("paris", None)
    statuses = [UNANSWERED, QUIET, ACTIVE]
    for repo, status in zip(d.repositories, statuses, strict=False):
        repo.status, repo.inactive = status, status == UNANSWERED
    w.app.state.digest_source = lambda org, week, repos: d
    page = w.client.get("/orgs/paris", params={"lang": "en"}).text
    shown = statuses[: len(d.repositories)]
    assert page.count("no response in 90 days") == shown.count(UNANSWERED)
    assert page.count("no outside activity in 90 days") == shown.count(QUIET)
    assert page.count('badge badge-ok">active') == shown.count(ACTIVE)
