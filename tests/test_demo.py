"""`veilleur demo --fast --no-serve`, run as a person would, checked against the forge's final state."""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from bot.messages.templating import T
from bot.sim.demo.world import GENT_REPO, OSPO_EMAIL, P
from tests.demo_run import DemoRun

PARIS = ZoneInfo("Europe/Paris")
# The whole demo runs once for the session (about 3 minutes on a busy shared machine): the
# first test of this module waits for it (tests/demo_run.py).
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> dict[str, Any]:
    """The session's one demo run (tests/demo_run.py), as `--json` summed it up."""
    assert "What Veilleur did" in demo_run.stdout
    summary = json.loads(demo_run.summary.read_text())
    return summary | {"stdout": demo_run.stdout, "cwd": str(demo_run.cwd)}


def comments(demo: dict[str, Any], key: str, template: str) -> list[dict[str, Any]]:
    story = demo["story"][key]
    return [
        c
        for c in demo["bot_comments"]
        if c["repo"] == story["repo"]
        and c["number"] == story["number"]
        and c["template"] == template
    ]


def test_french_contributor_got_a_french_welcome(demo: dict[str, Any]) -> None:
    (welcome,) = comments(demo, "carto", T.WELCOME_ISSUE)
    assert welcome["lang"] == "fr" and welcome["author"] == P.citizen_fr
    (dutch,) = comments(demo, "form", T.WELCOME_ISSUE)
    assert dutch["lang"] == "nl"


def test_private_member_and_bot_and_supplier_got_nothing(demo: dict[str, Any]) -> None:
    for key in ("internal", "bot", "supplier"):
        story = demo["story"][key]
        assert demo["labels"][key] == []
        assert [
            c
            for c in demo["bot_comments"]
            if c["repo"] == story["repo"] and c["number"] == story["number"]
        ] == []


def test_holiday_delayed_the_reminder(demo: dict[str, Any]) -> None:
    """Opened Fri 10 July 16:00 with a 3-day SLA: due Wed 15 July 16:00 without Bastille Day,
    Thu 16 July 16:00 with it. The first reminder comes after the latter."""
    reminders = sorted(
        datetime.fromisoformat(c["at"]) for c in comments(demo, "search", T.REMINDER)
    )
    assert reminders, "the unanswered issue was reminded"
    assert reminders[0] >= datetime(2026, 7, 16, 16, 0, tzinfo=PARIS)
    assert reminders[0].astimezone(PARIS).date().isoformat() == "2026-07-16"


def test_escalation_mail_was_sent(demo: dict[str, Any]) -> None:
    carto = demo["story"]["carto"]
    mails = [
        m
        for m in demo["emails"]
        if OSPO_EMAIL in m["to"] and f"{carto['repo']}#{carto['number']}" in m["subject"]
    ]
    assert len(mails) == 1
    # one reminder nobody answered (sla.max_unanswered_reminders: 1), one more after Camille
    # asked again; no escalation note on her issue: the OSPO got the mail
    assert len(comments(demo, "carto", T.REMINDER)) == 2
    assert comments(demo, "carto", T.ESCALATION_ISSUE) == []


def test_digest_lists_waiting_items_and_partner_cities(demo: dict[str, Any]) -> None:
    digest = demo["digest"]["json"]
    waiting = {(w["repo"], w["number"]) for w in digest["waiting"]}
    carto = demo["story"]["carto"]
    assert (carto["repo"], carto["number"]) in waiting
    names = {o["name"] for o in digest["organisations"]}
    assert {"Lyon", "Gent"} <= names


def test_gent_on_the_simulated_gitlab(demo: dict[str, Any]) -> None:
    """Sanne's issue on Gent's GitLab project is welcomed in Dutch; her merge request, which
    Pieter never answers, waits and is reminded (notes on GitLab, labels there too)."""
    assert demo["story"]["gent"]["repo"] == GENT_REPO
    (welcome,) = comments(demo, "gent", T.WELCOME_ISSUE)
    assert welcome["lang"] == "nl" and welcome["author"] == P.gent_citizen
    reminders = comments(demo, "gent-mr", T.REMINDER)
    # Pieter never answers: one reminder (sla.max_unanswered_reminders), in Dutch
    assert len(reminders) == 1 and {r["lang"] for r in reminders} == {"nl"}
    assert {"external", "awaiting-maintainer", "overdue"} <= set(demo["labels"]["gent-mr"])
    assert f"reminds the maintainers of {GENT_REPO}!1\n" in demo["stdout"]  # as GitLab says


def test_the_digest_and_dashboard_show_both_forges(demo: dict[str, Any]) -> None:
    """Paris lists Gent's GitLab group in `ospo.members`: one OSPO view over both forges."""
    digest = demo["digest"]["json"]
    repos = {r["repo"] for r in digest["repositories"]}
    assert {GENT_REPO, "paris/lutece-carto"} <= repos
    mr = demo["story"]["gent-mr"]
    assert (mr["repo"], mr["number"]) in {(w["repo"], w["number"]) for w in digest["waiting"]}
    assert demo["dashboard"]["github"] and demo["dashboard"]["gitlab"]
    assert f"1 project on GitLab ({GENT_REPO})" in demo["stdout"]
    assert f"Simulated GitLab on {demo['gitlab_url']}" in demo["stdout"]


def test_labels_and_commands(demo: dict[str, Any]) -> None:
    assert "partner: Gent" in demo["labels"]["form"]
    assert "documentation" in demo["labels"]["docs"]
    ical = demo["labels"]["ical"]
    assert "amélioration" in ical and "needs-triage" not in ical and "urgent" not in ical
    assert len(comments(demo, "ical", T.COMMAND_ERROR)) == 1


def test_demo_prints_what_the_bot_wrote_in_full(demo: dict[str, Any]) -> None:
    written, out = demo["written"], demo["stdout"]
    # the escalation is a mail to the OSPO, not a note on the contributor's item
    assert set(written) == {"welcome", "reminder", "escalation_mail"}
    form = demo["story"]["form"]
    assert written["welcome"].startswith(f"{form['repo']}#{form['number']}, ")
    assert "welkom" in written["welcome"] and "jan-gent" in written["welcome"]
    assert "@jan-gent" not in written["welcome"]  # the author, on their own item
    assert "1 sur 3" in written["reminder"] or "1 of 3" in written["reminder"]
    assert "10 jours ouvrés" in written["escalation_mail"]
    assert f"To: {OSPO_EMAIL}" in written["escalation_mail"]
    for title, kind in [
        ("== A welcome, in Dutch ==", "welcome"),
        ("== A reminder to the maintainers ==", "reminder"),
        ("== The escalation mail to the OSPO ==", "escalation_mail"),
    ]:
        assert f"{title}\n{written[kind].rstrip()}\n" in out  # the whole text, not a summary
        assert "<!--" not in written[kind]  # as the forge shows it: no hidden markers


def test_demo_data_is_kept_and_the_printed_commands_work(
    demo: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    kept = Path(demo["cwd"]) / "veilleur-demo.db"
    assert demo["database_url"] == f"sqlite:///{kept}" and kept.is_file()
    out = demo["stdout"]
    explore = out.split("== Explore the demo's data", 1)[1].splitlines()[1:]
    commands = [shlex.split(line)[1:] for line in explore if line.startswith("veilleur ")]
    assert [c[2] for c in commands] == ["digest", "deliveries"]
    assert commands[0][1] == demo["database_url"] and "--week" in commands[0]
    capsys.readouterr()
    assert main(commands[0]) == 0
    digest = capsys.readouterr().out
    assert demo["digest"]["week"] in digest and "lutece-carto" in digest
    assert main(commands[1]) == 0
    listed = capsys.readouterr().out
    assert "issues." in listed and "done" in listed


def test_demo_links_point_at_the_simulated_forge(demo: dict[str, Any]) -> None:
    forge_url = demo["forge_url"]
    assert forge_url.startswith("http://127.0.0.1:")
    waiting = demo["digest"]["json"]["waiting"]
    urls = [w["url"] for w in waiting if w["repo"].startswith("paris/")]
    assert urls and all(u.startswith(f"{forge_url}/paris/") for u in urls)
    mr = demo["story"]["gent-mr"]
    (gent,) = [w["url"] for w in waiting if (w["repo"], w["number"]) == (mr["repo"], mr["number"])]
    assert gent == f"{demo['gitlab_url']}/stad-gent/lutece-gent/-/merge_requests/1"
    assert "https://github.com" not in demo["stdout"]


def test_a_second_demo_starts_afresh_on_its_kept_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulated forge is new at each run: the demo's own file is replaced, not reused."""
    from bot.sim.demo.runner import demo_database

    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "veilleur-demo.db"
    kept.write_bytes(b"yesterday's demo")
    (tmp_path / "veilleur-demo.db-wal").write_bytes(b"wal")
    assert demo_database(None) == f"sqlite:///{kept}"
    assert not kept.exists() and not (tmp_path / "veilleur-demo.db-wal").exists()


def test_the_demo_refuses_a_named_database_that_holds_data(tmp_path: Path) -> None:
    from bot.settings import SettingsError
    from bot.sim.demo.runner import demo_database
    from bot.storage.db import make_engine
    from bot.storage.migrate import upgrade
    from bot.storage.models import Delivery

    url = f"sqlite:///{tmp_path / 'prod.db'}"
    upgrade(url)
    assert demo_database(url) == url  # empty: fine
    engine = make_engine(url)
    with Session(engine) as s:
        s.add(Delivery(guid="g1", event="ping", received_at=datetime.now(PARIS), payload=b"{}"))
        s.commit()
    engine.dispose()
    with pytest.raises(SettingsError, match="needs an empty database"):
        demo_database(url)
