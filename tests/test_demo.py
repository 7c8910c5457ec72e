"""`veilleur demo --fast --no-serve`, run as a person would, checked against the forge's final state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.demo.world import OSPO_EMAIL, P
from bot.templating import T

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo") / "demo.json"
    cmd = [
        sys.executable,
        "-m",
        "bot.cli",
        "demo",
        "--fast",
        "--no-serve",
        "--port",
        "0",
        "--json",
        str(out),
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=out.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "What Veilleur did" in proc.stdout
    return json.loads(Path(out).read_text())


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
    assert len(comments(demo, "carto", T.REMINDER)) == 3  # sla.max_reminders


def test_digest_lists_waiting_items_and_partner_cities(demo: dict[str, Any]) -> None:
    digest = demo["digest"]["json"]
    waiting = {(w["repo"], w["number"]) for w in digest["waiting"]}
    carto = demo["story"]["carto"]
    assert (carto["repo"], carto["number"]) in waiting
    names = {o["name"] for o in digest["organisations"]}
    assert {"Lyon", "Gent"} <= names


def test_labels_and_commands(demo: dict[str, Any]) -> None:
    assert "partner: Gent" in demo["labels"]["form"]
    assert "documentation" in demo["labels"]["docs"]
    ical = demo["labels"]["ical"]
    assert "amélioration" in ical and "needs-triage" not in ical and "urgent" not in ical
    assert len(comments(demo, "ical", T.COMMAND_ERROR)) == 1
