"""The digest on a hand-checked record (SQLite and PostgreSQL): Time to First Response across
Bastille Day, waiting lists, volume, new contributors, organisations, trends, repository
health, and a past week that does not change whatever happens afterwards.

Week 2026-W29 runs Mon 13 July 00:00 to Mon 20 July 00:00 (Paris); Tue 14 July is a public
holiday; working hours 09:00-18:00; sla.first_response_days = 2.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.config.schema import VeilleurConfig
from bot.digest.compute import compute_digest
from bot.digest.model import Digest
from bot.sla.calendar import BusinessCalendar
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from tests.digest_records import Record, paris

CONFIG = VeilleurConfig.model_validate(
    {
        "partners": [
            {"name": "Lyon", "github_orgs": ["ville-de-lyon"]},
            {"name": "Nantes", "email_domains": ["nantes.fr"]},
            {"name": "Atos", "logins": ["sam"], "internal": True},
        ],
        "sla": {"first_response_days": 2},
    }
)
NOW = paris(2026, 7, 22, 12)  # Wednesday after the week
END = paris(2026, 7, 20)
LUTECE, DORMANT = "paris/lutece", "paris/dormant"
M = "maintainer"


def seed(rec: Record) -> None:
    rec.repo("lutece")
    rec.repo("dormant")
    # Before the week: an untouched partner issue, and one waiting on its author until Monday.
    rec.item(LUTECE, 5, "lea", "partner", paris(2026, 6, 29, 10), labels=("partner: Lyon",))
    rec.item(LUTECE, 6, "zoe", "external", paris(2026, 7, 1, 10), domain="nantes.fr")
    rec.ask(LUTECE, 6, paris(2026, 7, 1, 11), "marie", "Which version?")
    rec.comment(LUTECE, 6, paris(2026, 7, 13, 10), "zoe", "external", "Version 2.")
    # A quiet repository: last answered on 2 January.
    rec.item(DORMANT, 1, "remi", "external", paris(2026, 1, 1, 10))
    rec.ask(DORMANT, 1, paris(2026, 1, 2, 10), "marie", "Logs?")
    rec.comment(DORMANT, 1, paris(2026, 1, 5, 10), "remi", "external", "Here.")
    # The week. #1: label, bot, author, slash command: none is a response; answered Wed 11:00.
    rec.item(LUTECE, 1, "camille", "external", paris(2026, 7, 13, 17), company="Citoyenne")
    rec.event(LUTECE, 1, paris(2026, 7, 13, 17, 30), "labeled", "marie", M, label="bug")
    rec.comment(LUTECE, 1, paris(2026, 7, 14, 10), "renovate[bot]", "bot", "Automated note")
    rec.comment(LUTECE, 1, paris(2026, 7, 14, 11), "camille", "external", "Any news?")
    rec.comment(LUTECE, 1, paris(2026, 7, 14, 12), "marie", M, "/label +bug")
    rec.comment(LUTECE, 1, paris(2026, 7, 15, 11), "marie", M, "Merci, on regarde.")
    # #7 opened on the holiday, merged Thursday 15:00; #2 closed by the team Friday 12:00.
    rec.item(LUTECE, 7, "alice", "external", paris(2026, 7, 14, 10), kind="pull", company="@Acme ")
    rec.event(LUTECE, 7, paris(2026, 7, 16, 15), "merged", "marie", M)
    rec.item(LUTECE, 2, "bob", "external", paris(2026, 7, 16, 9), kind="pull", company="ACME")
    rec.event(LUTECE, 2, paris(2026, 7, 17, 12), "closed", "marie", M)
    # Unanswered: #8 (zoe, not new), #3 (jan, partner by label).
    rec.item(LUTECE, 8, "zoe", "external", paris(2026, 7, 17, 10), kind="pull", domain="nantes.fr")
    rec.item(LUTECE, 3, "jan", "partner", paris(2026, 7, 17, 17), labels=("partner: Lyon",))
    # Inside: hugo's own comment is not a response; marie's is (1.5 business hours).
    rec.item(LUTECE, 4, "hugo", M, paris(2026, 7, 13, 10))
    rec.comment(LUTECE, 4, paris(2026, 7, 13, 10, 30), "hugo", M, "Note to self")
    rec.comment(LUTECE, 4, paris(2026, 7, 13, 11, 30), "marie", M, "On it")
    rec.item(LUTECE, 9, "dependabot[bot]", "bot", paris(2026, 7, 15, 9), kind="pull")


def afterwards(rec: Record) -> None:
    """Everything that happens after the week and must not change its digest."""
    rec.event(LUTECE, 5, paris(2026, 7, 21, 10), "closed", "marie", M)
    rec.comment(LUTECE, 3, paris(2026, 7, 20, 10), "marie", M, "Thanks!")
    rec.comment(LUTECE, 8, paris(2026, 7, 20, 11), "hugo", M, "Looking.")
    rec.event(LUTECE, 8, paris(2026, 7, 21, 9), "merged", "hugo", M)
    rec.event(LUTECE, 2, paris(2026, 7, 21, 15), "reopened", "bob", "external")
    rec.comment(DORMANT, 1, paris(2026, 7, 20, 9, 30), "marie", M, "Sorry for the wait.")
    rec.item(LUTECE, 10, "nina", "external", paris(2026, 7, 21, 9), company="New Co")


@pytest.fixture
def record(migrated: str) -> Record:
    rec = Record(make_engine(migrated))
    seed(rec)
    return rec


def digest(rec: Record, week: str | None = "2026-W29", **kw: Any) -> Digest:
    kw.setdefault("configs", {LUTECE: CONFIG, DORMANT: CONFIG})
    return compute_digest(rec.engine, "paris", week, now=NOW, bot_logins=("veilleur[bot]",), **kw)


def business_days(a: Any, b: Any) -> float:
    return round(BusinessCalendar().business_days_between(a, b), 2)


def test_time_to_first_response_in_business_hours_across_a_holiday(record: Record) -> None:
    d = digest(record)
    out = d.ttfr_outside
    # #1 Mon 17:00 -> Wed 11:00 = 1 h + (holiday) + 2 h = 3 h; #2 Thu 09:00 -> Fri 12:00 = 12 h;
    # #7 Tue (holiday) 10:00 -> Thu 15:00 = 9 h + 6 h = 15 h; #3 and #8 unanswered.
    assert (out.items, out.answered, out.unanswered) == (5, 3, 2)
    assert out.median_business_hours == 12.0
    assert out.p90_business_hours == 14.4  # 12 + 0.8 * (15 - 12)
    assert out.within_sla_share == 0.6  # 3 answered within 2 business days, of 5
    inside = d.ttfr_inside
    assert (inside.items, inside.answered, inside.median_business_hours) == (1, 1, 1.5)
    assert d.week == "2026-W29" and (d.start, d.end) == (paris(2026, 7, 13), END)


def test_waiting_at_the_end_of_the_period(record: Record) -> None:
    waiting = digest(record).waiting
    assert [(w.repo, w.number) for w in waiting] == [
        (DORMANT, 1), (LUTECE, 5), (LUTECE, 6), (LUTECE, 8), (LUTECE, 3),
    ]  # fmt: skip
    days = {(w.repo, w.number): w.business_days_waiting for w in waiting}
    assert days[(LUTECE, 5)] == 13.58  # Mon 29 June 10:00 -> Mon 20 July, 14 July off
    assert days[(LUTECE, 6)] == 3.58  # follow-up since Mon 13 July 10:00
    assert days[(LUTECE, 8)] == 0.58 and days[(LUTECE, 3)] == 0.29
    assert days[(DORMANT, 1)] == business_days(paris(2026, 1, 5, 10), END)
    overdue = {(w.repo, w.number) for w in waiting if w.overdue}
    assert overdue == {(DORMANT, 1), (LUTECE, 5)}  # #6 is a follow-up (5 days)
    five = waiting[1]
    assert (five.author, five.author_class, five.organisation, five.kind) == (
        "lea", "partner", "Lyon", "issue",
    )  # fmt: skip
    assert five.url == "https://github.com/paris/lutece/issues/5"


def test_volume_and_change_request_closure_ratio(record: Record) -> None:
    d = digest(record)
    v = d.volume
    assert (v.issues_opened, v.issues_closed) == (2, 0)
    assert (v.pulls_opened, v.pulls_closed, v.pulls_merged) == (3, 1, 1)
    assert d.change_request_closure_ratio == 0.6667


def test_new_contributors_and_their_outcome(record: Record) -> None:
    new = digest(record).new_contributors
    assert [(c.login, c.number, c.outcome, c.organisation) for c in new] == [
        ("camille", 1, "answered", "Citoyenne"),
        ("alice", 7, "merged", "Acme"),
        ("bob", 2, "closed", "Acme"),
        ("jan", 3, "waiting", "Lyon"),
    ]  # zoe contributed on 1 July, so she is not new


def test_organisations_new_ones_and_elephant_factor(record: Record) -> None:
    d = digest(record)
    assert [(o.name, o.contributions, o.new) for o in d.organisations] == [
        ("Acme", 2, True), ("Citoyenne", 1, True), ("Lyon", 1, False), ("Nantes", 1, False),
    ]  # fmt: skip
    assert d.new_organisations == ["Acme", "Citoyenne"]
    assert d.elephant_factor == 2  # acme 2 of 5, plus one more organisation


def test_trends_and_repository_health(record: Record) -> None:
    d = digest(record)
    assert [p.week for p in d.trend_12w] == [f"2026-W{n}" for n in range(18, 30)]
    assert d.trend_4w == d.trend_12w[-4:]
    tail = [(p.week, p.outside_opened, p.waiting_at_end) for p in d.trend_4w]
    assert tail == [("2026-W26", 0, 1), ("2026-W27", 2, 2), ("2026-W28", 0, 2), ("2026-W29", 5, 5)]
    assert d.trend_4w[-1].ttfr_median_business_hours == 12.0
    assert d.trend_4w[1].ttfr_median_business_hours == 1.0  # #6, 1 h; #5 never answered
    health = {r.repo: r for r in d.repositories}
    lutece, dormant = health[LUTECE], health[DORMANT]
    assert (lutece.open_outside_items, lutece.oldest_wait_business_days) == (5, 13.58)
    assert lutece.ttfr_median_business_hours == 7.5  # 1, 3, 12, 15
    assert lutece.last_maintainer_response == paris(2026, 7, 17, 12)
    assert not lutece.inactive
    assert dormant.inactive and dormant.last_maintainer_response == paris(2026, 1, 2, 10)
    assert d.repositories[0].repo == DORMANT  # the longest wait first


def test_a_past_week_does_not_change_whatever_happens_afterwards(record: Record) -> None:
    before = digest(record).to_json()
    afterwards(record)
    after = digest(record).to_json()
    assert after == before
    later = digest(record, "2026-W30", configs=CONFIG)  # the same events do count in W30
    assert (LUTECE, 5) not in {(w.repo, w.number) for w in later.waiting}
    assert [c.login for c in later.new_contributors] == ["nina"]


def test_stored_configs_default_week_and_a_running_week(record: Record) -> None:
    for repo in (LUTECE, DORMANT):
        record.store_config(repo, CONFIG)
    stored = compute_digest(record.engine, "paris", None, now=NOW, bot_logins=("veilleur[bot]",))
    assert stored.to_json() == digest(record).to_json()
    running = digest(record, "2026-W30")
    assert running.end == NOW and running.start == END
    with pytest.raises(ValueError, match="not started"):
        digest(record, "2026-W31")


def test_repos_scope_a_partial_view(record: Record) -> None:
    d = digest(record, repos=["PARIS/LUTECE"])
    assert {w.repo for w in d.waiting} == {LUTECE}
    assert [r.repo for r in d.repositories] == [LUTECE]


def test_json_contract(record: Record) -> None:
    data = digest(record).to_json()
    assert {"org", "week", "period", "metrics", "waiting", "organisations"} <= set(data)
    assert data["org"] == "paris"
    assert data["period"]["start"] == "2026-07-13T00:00:00+02:00"
    assert data["period"]["end"] == "2026-07-20T00:00:00+02:00"
    ttfr = data["metrics"]["time_to_first_response"]
    assert (ttfr["median_business_hours"], ttfr["p90_business_hours"]) == (12.0, 14.4)
    assert {"login", "outcome"} <= set(data["metrics"]["new_contributors"][0])
    assert {"repo", "number", "author", "business_days_waiting"} <= set(data["waiting"][0])
    assert {"name", "contributions"} <= set(data["organisations"][0])
    import json

    json.dumps(data)  # plain JSON types only


def test_empty_org(migrated: str) -> None:
    upgrade(migrated)
    d = compute_digest(make_engine(migrated), "nobody", "2026-W29", now=NOW)
    assert d.ttfr_outside.items == 0 and d.ttfr_outside.median_business_hours is None
    assert d.change_request_closure_ratio is None and d.elephant_factor is None
    assert d.waiting == [] and d.organisations == [] and len(d.trend_12w) == 12
    assert END - d.start == timedelta(days=7)


def test_a_week_has_the_same_figures_in_its_digest_and_in_every_later_trend(
    record: Record,
) -> None:
    """#5 (opened in W27) is first answered by its close on 21 July, in W30: W27's row of
    W30's trend must still say what W27's own digest said."""
    afterwards(record)
    own = {w: digest(record, w) for w in ("2026-W27", "2026-W28", "2026-W29", "2026-W30")}
    for week, d in own.items():
        row = d.trend_4w[-1]
        assert row.week == week
        assert row.ttfr_median_business_hours == d.ttfr_outside.median_business_hours
        assert row.outside_opened == d.ttfr_outside.items
        for later in own.values():
            if later.week > week:
                (again,) = [p for p in later.trend_12w if p.week == week]
                assert again == row, (week, later.week)
    assert own["2026-W30"].trend_4w[0].ttfr_median_business_hours == 1.0  # not #5's close
