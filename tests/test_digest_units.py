"""Digest building blocks: exact fast calendar, SLA clock, periods, affiliation, formats, CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config.schema import VeilleurConfig
from bot.digest import period, render
from bot.digest.fastcal import PrefixCalendar
from bot.digest.metrics import (
    INDEPENDENT,
    Affiliation,
    EntryRecord,
    ItemRecord,
    Rules,
    Track,
    elephant_factor,
    first_response,
    percentile,
)
from bot.digest.publish import due_week, publication_config
from bot.messages.templating import Renderer
from bot.sla import rules as sla
from bot.sla.calendar import BusinessCalendar
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from tests.digest_records import PARIS, Record, paris

CAL_ARGS: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "country": "FR",
    "closures": [(date(2025, 12, 24), date(2026, 1, 2))],
    "extra_holidays": [(9, 27)],
}
BASE, SLOW = PrefixCalendar(**CAL_ARGS), BusinessCalendar(**CAL_ARGS)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
HOSTILE = '=HYPERLINK("http://e.vil") <script>x</script> @paris/ospo *bold*'
instants = st.integers(0, 800 * 86_400_000_000).map(lambda us: T0 + timedelta(microseconds=us))
spans = st.integers(0, 400 * 86_400_000_000).map(lambda us: timedelta(microseconds=us))


@settings(max_examples=300, deadline=None)
@given(instants, spans)
def test_prefix_calendar_is_exactly_the_business_calendar(start: datetime, span: timedelta) -> None:
    end = start + span
    assert BASE.business_time_between(start, end) == SLOW.business_time_between(start, end)
    assert BASE.working_hours_between(start, end) == SLOW.working_hours_between(start, end)


@settings(max_examples=300, deadline=None)
@given(instants, st.fractions(min_value=0, max_value=300, max_denominator=97))
def test_prefix_calendar_adds_business_days_exactly(start: datetime, days: Fraction) -> None:
    assert BASE.add_business_days(start, days) == SLOW.add_business_days(start, days)


KINDS = ["commented", "reviewed", "closed", "reopened", "pushed", "snoozed", "waiting_on"]
ACTORS = [("alice", "external"), ("marie", "maintainer"), ("bot[bot]", "bot"), ("x", None)]


@st.composite
def timelines(draw: Any) -> list[EntryRecord]:
    out, t = [], paris(2026, 3, 2, 10)
    for _ in range(draw(st.integers(0, 8))):
        t += timedelta(hours=draw(st.integers(1, 200)))
        kind = draw(st.sampled_from(KINDS))
        login, cls = draw(st.sampled_from(ACTORS))
        detail: dict[str, Any] = {}
        if kind == "reviewed":
            detail["state"] = draw(st.sampled_from(["approved", "changes_requested", "commented"]))
        if kind == "commented":
            detail["asks_author"] = draw(st.booleans())
            detail["body"] = draw(st.sampled_from(["ok", "/snooze 2d"]))
        if kind == "snoozed":
            detail["until"] = (t + timedelta(days=draw(st.integers(1, 9)))).isoformat()
        if kind == "waiting_on":
            detail["who"] = draw(st.sampled_from(["author", "maintainer"]))
        out.append(EntryRecord(kind, t.astimezone(UTC), login, cls, None, detail))
    return out


@settings(max_examples=300, deadline=None)
@given(timelines(), st.integers(0, 60 * 24))
def test_waiting_clock_agrees_with_waiting_state(entries: list[EntryRecord], hours: int) -> None:
    item = ItemRecord("o/r", 1, "issue", "t", "alice", "external", paris(2026, 3, 2, 10))
    now = paris(2026, 3, 2, 10) + timedelta(hours=hours)
    state = sla.waiting_state(item, entries, now, SLOW, ("bot[bot]",))
    clock = sla.waiting_clock(item, entries, now, BASE, ("bot[bot]",))
    assert clock == (state.waiting_on, state.business_days_waiting, state.overdue)
    holder = sla.ball_holder(item, [e for e in entries if e.occurred_at <= now], ("bot[bot]",))
    assert holder == state.waiting_on


@settings(max_examples=200, deadline=None)
@given(timelines(), st.lists(st.integers(0, 60 * 24), min_size=1, max_size=6))
def test_one_replay_per_track_answers_every_instant(
    entries: list[EntryRecord], offsets: list[int]
) -> None:
    """`Track` replays its timeline once and reads the answers at each instant off it; they
    are the answers of a replay cut at each instant."""
    item = ItemRecord("o/r", 1, "issue", "t", "alice", "external", paris(2026, 3, 2, 10))
    rules = Rules(BASE, None, 2.0)
    instants = sorted({paris(2026, 3, 2, 10) + timedelta(hours=h) for h in offsets})
    end = instants[-1]
    upto_end = [e for e in entries if e.occurred_at <= end]
    track = Track(item, list(upto_end), frozenset({"bot[bot]"}), rules=rules)
    for at in instants:
        cut = [e for e in upto_end if e.occurred_at <= at]
        state = sla.waiting_state(track.as_of(at), cut, at, SLOW, ("bot[bot]",))
        assert track.waiting_at(at) == (state.waiting_on == sla.MAINTAINER)
    expected = sla.waiting_clock(track.as_of(end), upto_end, end, SLOW, ("bot[bot]",))
    assert track.clock_at(end, rules) == expected


def test_state_is_rebuilt_from_the_record_at_each_instant() -> None:
    item = ItemRecord("o/r", 1, "pull", "t", "alice", "external", paris(2026, 3, 2, 10),
                      state="closed", closed_at=paris(2026, 3, 20))  # fmt: skip
    bare = Track(item, [], frozenset())  # no close entry recorded: closed_at is used
    assert bare.open_at(paris(2026, 3, 19)) and bare.closed_at(paris(2026, 3, 21))
    entries = [
        EntryRecord("closed", paris(2026, 3, 5), "marie", "maintainer"),
        EntryRecord("reopened", paris(2026, 3, 6), "alice", "external"),
        EntryRecord("merged", paris(2026, 3, 20), "marie", "maintainer"),
    ]
    tr = Track(item, entries, frozenset())
    assert [tr.open_at(paris(2026, 3, d)) for d in (4, 5, 7, 21)] == [True, False, True, False]
    assert tr.merged_by(paris(2026, 3, 21)) and not tr.merged_by(paris(2026, 3, 19))
    assert tr.first_response == paris(2026, 3, 5)  # a close by the team is a response
    assert first_response(item, entries, frozenset()) == tr.first_response


def test_percentile_and_elephant_factor() -> None:
    assert percentile([], 0.5) is None and percentile([4.0], 0.9) == 4.0
    assert percentile([3, 12, 15], 0.5) == 12
    assert percentile([3, 12, 15], 0.9) == pytest.approx(14.4)
    assert elephant_factor({}) is None
    assert elephant_factor({"a": 5, "b": 3, "c": 2}) == 1  # 5 of 10 is half
    assert elephant_factor({"a": 4, "b": 3, "c": 2, "d": 1}) == 2


def test_affiliation_order_and_company_normalisation() -> None:
    cfg = VeilleurConfig.model_validate({"partners": [
        {"name": "Lyon", "github_orgs": ["ville-de-lyon"], "logins": ["lea"]},
        {"name": "Nantes", "email_domains": ["nantes.fr"]},
    ]})  # fmt: skip
    aff = Affiliation(cfg.partners, cfg.labels.partner_prefix)
    assert aff.organisation("LEA", "Acme", "nantes.fr") == "Lyon"  # login first
    assert aff.organisation("zoe", "Acme", "NANTES.fr") == "Nantes"  # then e-mail domain
    assert aff.organisation("jan", None, None, ["bug", "partner: Lyon"]) == "Lyon"  # label
    assert aff.organisation("x", "@Ville-de-Lyon", None) == "Lyon"  # company naming its org
    assert aff.organisation("y", "  @ACME  Corp ", None) == "ACME Corp"
    # shown as its source wrote it; spellings differing in case are one organisation
    assert aff.organisation("u1", "OpenCity Ltd", None) == "OpenCity Ltd"
    assert aff.organisation("u2", "opencity ltd", None) == "OpenCity Ltd"
    assert aff.organisation("u3", "Independent", None) == INDEPENDENT
    assert aff.organisation("z", " @ ", None) == INDEPENDENT


def test_iso_weeks_in_local_time() -> None:
    assert period.normalise_week("2026w9") == "2026-W09"
    with pytest.raises(ValueError):
        period.parse_week("2026-W54")
    start, end = period.week_bounds("2026-W13", PARIS)  # summer time starts on 29 March
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=167)
    sunday_night = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # Monday 00:30 in Paris
    assert period.last_complete_week(sunday_night, PARIS) == "2026-W09"
    assert period.last_complete_week(sunday_night, UTC) == "2026-W08"
    assert period.weeks_ending("2026-W02", 3) == ["2025-W52", "2026-W01", "2026-W02"]
    assert period.schedule_instant("2026-W10", 0, 9, PARIS) == paris(2026, 3, 9, 9)


def test_which_config_publishes_and_when() -> None:
    schedule = {"day": "tue", "hour": 8}
    on = VeilleurConfig.model_validate({"digest": {"enabled": True, "schedule": schedule}})
    off = VeilleurConfig()
    assert publication_config("paris", {"paris/a": off, "paris/b": on}) is on
    assert publication_config("paris", {"paris/a": off}) is None
    assert due_week(on, paris(2026, 3, 10, 7, 59)) is None
    assert due_week(on, paris(2026, 3, 10, 8)) == "2026-W10"
    assert due_week(on, paris(2026, 3, 15, 23)) == "2026-W10"


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, Record]:
    from tests.test_digest import CONFIG, seed

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    rec = Record(make_engine(url))
    seed(rec)
    rec.item("paris/lutece", 11, "mallory", "external", paris(2026, 7, 16, 10), title=HOSTILE)
    fr = CONFIG.model_copy(update={"digest": CONFIG.digest.model_copy(update={"language": "fr"})})
    rec.store_config("paris/lutece", fr)
    return url, rec


def run_cli(capsys: Any, url: str, *args: str) -> str:
    at = "2026-07-22T12:00:00+02:00"
    code = main(["--database-url", url, "digest", "--org", "paris", "--at", at, *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return str(out.out)


def test_cli_formats(db: tuple[str, Record], capsys: Any) -> None:
    url, _ = db
    data = json.loads(run_cli(capsys, url, "--format", "json"))  # default week: 2026-W29
    assert data["week"] == "2026-W29" and data["metrics"]["time_to_first_response"]["items"] == 6
    md = run_cli(capsys, url)  # Markdown in the org's language (fr)
    assert md.startswith("# Santé des contributions de paris, 2026-W29")
    assert "@\u200dparis/ospo" in md and "\\*bold\\*" in md and "<script>" not in md
    en = run_cli(capsys, url, "--format", "md", "--lang", "en", "--week", "2026-W28")
    assert en.startswith("# Contributor health of paris, 2026-W28")
    page = run_cli(capsys, url, "--format", "html", "--lang", "en")
    assert "<h1>Contributor health of paris, 2026-W29</h1>" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
    rows = list(csv.DictReader(io.StringIO(run_cli(capsys, url, "--format", "csv"))))
    waiting = [r for r in rows if r["section"] == "waiting"]
    assert waiting[0]["item"] == "paris/dormant#1"
    dormant = {r["metric"]: r["value"] for r in waiting if r["item"] == "paris/dormant#1"}
    assert (dormant["overdue"], dormant["kind"]) == ("true", "issue")
    assert float(dormant["business_days_waiting"]) > 100
    sections = {r["section"] for r in rows}
    assert sections >= {"time_to_first_response", "volume", "metrics", "repositories", "trend"}
    ttfr = {r["metric"]: r["value"] for r in rows if r["item"] == "outside"}
    assert ttfr["items"] == "6" and ttfr["median_business_hours"]
    assert {r["week"] for r in rows} == {"2026-W29"} and {r["org"] for r in rows} == {"paris"}
    assert any(r["value"].startswith("'=HYPERLINK") for r in waiting)  # no formula
    assert {r["item"] for r in rows if r["section"] == "organisations"} >= {"Acme", "Lyon"}


def test_cli_errors(db: tuple[str, Record], capsys: Any) -> None:
    url, _ = db
    assert main(["--database-url", url, "digest", "--org", "paris", "--week", "2026-W99"]) == 2
    assert "no week 99" in capsys.readouterr().err


def test_issue_body_is_cut_to_a_limit(db: tuple[str, Record]) -> None:
    from tests.test_digest import digest

    _, rec = db
    d = digest(rec)
    text = render.markdown(d, "en", Renderer(), limit=2).text
    assert "And 4 more:" in text
    assert "`veilleur digest --org paris --week 2026-W29 --format csv`" in text
