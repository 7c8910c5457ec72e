"""SLA scenarios over the simulated forge: reminders, caps, snooze, escalation by mail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.messages.templating import T
from tests.harness import City, Harness

PARIS = ZoneInfo("Europe/Paris")
MON = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)  # Monday 2 March 2026, no holiday that week
REMINDER = f"veilleur-template:{T.REMINDER}/"
WAITING_TITLE = "Contributions en attente de réponse"  # the city writes French


def open_at(h: Harness, when: datetime, city: City, login: str | None = None) -> int:
    h.clock.set(when)
    n = h.forge.scenario.open_issue(
        city.repo,
        login or city.citizen_en,
        "Map is broken",
        "The map of the city does not load on my phone when I zoom in on my district.",
    )
    h.wait()
    return n


def reminders(h: Harness, city: City, n: int) -> list[Any]:
    return [c for c in h.comments(city.repo, n) if REMINDER in c.body]


def at(day: datetime, hours: float = 0) -> datetime:
    return day + timedelta(hours=hours)


def test_overdue_after_sla_and_first_response_stops_the_clock(harness: Harness, city: City) -> None:
    n = open_at(harness, MON, city)
    harness.sweep(MON + timedelta(days=2, hours=-1))  # Wed 09:00: 1.96 business days, not yet
    assert reminders(harness, city, n) == []
    harness.sweep(MON + timedelta(days=2, hours=1))  # Wed 11:00: past the 2-day SLA
    (rem,) = reminders(harness, city, n)
    assert "@hugo" in rem.body and "overdue" in harness.labels(city.repo, n)
    answered = open_at(harness, MON + timedelta(days=7), city, city.citizen_nl)
    harness.clock.advance(timedelta(hours=3))
    harness.forge.scenario.comment(
        city.repo, answered, city.maintainer, "Thanks, we are looking into it."
    )
    harness.wait()
    harness.sweep(MON + timedelta(days=11))
    assert reminders(harness, city, answered) == []
    assert "overdue" not in harness.labels(city.repo, answered)


def test_label_change_alone_is_not_a_response(harness: Harness, city: City) -> None:
    n = open_at(harness, MON, city)
    harness.clock.set(MON + timedelta(hours=2))
    harness.forge.scenario.label(city.repo, n, city.maintainer, "bug")
    harness.forge.scenario.assign(city.repo, n, city.maintainer, city.maintainer)
    harness.wait()
    harness.sweep(MON + timedelta(days=3))
    (rem,) = reminders(harness, city, n)
    assert "@marie" in rem.body  # the assignee is responsible first


def test_author_reply_restarts_the_clock(harness: Harness, city: City) -> None:
    n = open_at(harness, MON, city)
    harness.clock.set(MON + timedelta(hours=1))
    harness.forge.scenario.comment(city.repo, n, city.maintainer, "Which browser do you use?")
    harness.wait()
    harness.sweep(MON + timedelta(days=9))  # waiting on the author: clock stopped
    assert reminders(harness, city, n) == []
    harness.clock.set(MON + timedelta(days=9, hours=1))  # Wednesday of week 2
    harness.forge.scenario.comment(city.repo, n, city.citizen_en, "Firefox on Android.")
    harness.wait()
    harness.sweep(MON + timedelta(days=15))  # Tue of week 3: 4 business days < follow_up 5
    assert reminders(harness, city, n) == []
    harness.sweep(MON + timedelta(days=16, hours=2))  # Wed of week 3: past 5 business days
    assert len(reminders(harness, city, n)) == 1
    assert any("follow_up" in k.key for k in harness.action_keys(f"sla:{city.repo}#{n}:"))


def test_reminders_are_capped_and_spaced_then_escalated(
    harness: Harness, city: City, smtp: Any
) -> None:
    inbox, port = smtp
    h = harness
    h.app.state.worker.runtime.mailer = _mailer(h, port)
    n = open_at(h, MON, city)
    day = MON
    for _ in range(30):  # every working day at 10:00 and 15:00 for six weeks
        day += timedelta(days=1)
        if day.weekday() >= 5:
            continue
        h.sweep(day)
        h.sweep(day + timedelta(hours=5))
    rems = reminders(h, city, n)
    assert len(rems) == 1  # nobody answered it: sla.max_unanswered_reminders
    escalations = [
        c for c in h.comments(city.repo, n) if f"veilleur-template:{T.ESCALATION_ISSUE}/" in c.body
    ]
    assert escalations == []  # the OSPO is told by mail, not on the contributor's item
    assert len(inbox.messages) == 1
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["ospo@paris.example"] and city.repo in msg["Subject"]
    ospo = h.issues_titled(city.ospo_repo, WAITING_TITLE)
    assert len(ospo) == 1 and "@paris/ospo" in ospo[0].body and f"#{n}" in ospo[0].body
    assert h.failures() == []


def _mailer(h: Harness, port: int) -> Any:
    from bot.effects.mail import Mailer

    settings = h.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    return Mailer(settings)


def test_waiting_list_is_updated_never_duplicated(harness: Harness, city: City) -> None:
    first = open_at(harness, MON, city)
    harness.sweep(MON + timedelta(days=1))
    lists = harness.issues_titled(city.repo, WAITING_TITLE)
    assert len(lists) == 1 and f"#{first}" in lists[0].body
    second = open_at(harness, MON + timedelta(days=1, hours=1), city, city.citizen_nl)
    harness.sweep(MON + timedelta(days=2))
    harness.sweep(MON + timedelta(days=2, hours=1))
    lists = harness.issues_titled(city.repo, WAITING_TITLE)
    assert len(lists) == 1
    body = lists[0].body
    assert body.index(f"#{first}") < body.index(f"#{second}")  # sorted by wait, longest first
    for n in (first, second):
        harness.forge.scenario.close(city.repo, n, city.maintainer)
    harness.wait()
    harness.sweep(MON + timedelta(days=3))
    lists = harness.issues_titled(city.repo, WAITING_TITLE)
    assert len(lists) == 1 and f"#{first}" not in lists[0].body


def test_snooze_pauses_reminders(harness: Harness, city: City) -> None:
    n = open_at(harness, MON, city)
    harness.clock.set(MON + timedelta(hours=1))
    harness.forge.scenario.comment(city.repo, n, city.maintainer, "/snooze 5d")
    harness.wait()
    harness.sweep(MON + timedelta(days=3))
    assert reminders(harness, city, n) == []
    harness.sweep(MON + timedelta(days=15))
    assert len(reminders(harness, city, n)) == 1


def test_mentions_beyond_daily_cap_are_listed_not_posted(
    harness_factory: Any, city: City, forge: Any
) -> None:
    cfg = (
        forge.get_repo(city.repo)
        .files["main"][".github/veilleur.yml"]
        .replace(
            "  first_response_days: 2\n",
            "  first_response_days: 2\n  max_mentions_per_person_per_day: 1\n",
        )
    )
    forge.set_file(city.repo, ".github/veilleur.yml", cfg)
    h = harness_factory()
    forge.scenario.install(city.org)
    h.wait()
    a = open_at(h, MON, city)
    b = open_at(h, MON + timedelta(minutes=5), city, city.citizen_nl)
    h.sweep(MON + timedelta(days=3))
    ra, rb = reminders(h, city, a), reminders(h, city, b)
    bodies = [r.body for r in ra + rb]
    assert len(bodies) == 2
    assert sum("@hugo" in b for b in bodies) == 1  # pinged once today, listed the other time


def test_dry_run_sweep_acts_on_nothing(harness: Harness, city: City) -> None:
    n = open_at(harness, MON, city)
    result = harness.sweep(MON + timedelta(days=3), dry_run=True)
    assert any("UpsertComment" in a for a in result.actions)
    assert reminders(harness, city, n) == []


def test_bastille_day_delays_the_reminder(harness: Harness, city: City) -> None:
    """Opened Fri 10 July 2026 16:00 with a 2-day SLA: overdue only after Wed 15 July 16:00."""
    n = open_at(harness, datetime(2026, 7, 10, 16, 0, tzinfo=PARIS), city)
    harness.sweep(datetime(2026, 7, 14, 16, 30, tzinfo=PARIS))  # the holiday itself
    harness.sweep(datetime(2026, 7, 15, 15, 55, tzinfo=PARIS))
    assert reminders(harness, city, n) == []
    harness.sweep(datetime(2026, 7, 15, 16, 5, tzinfo=PARIS))
    assert len(reminders(harness, city, n)) == 1


def test_stale_is_off_by_default(harness: Harness, city: City) -> None:
    n = open_at(harness, MON, city)
    harness.clock.set(MON + timedelta(hours=1))
    harness.forge.scenario.comment(city.repo, n, city.maintainer, "Can you share a screenshot?")
    harness.wait()
    harness.sweep(MON + timedelta(days=60))
    assert harness.forge.get_issue(city.repo, n).state == "open"
    assert [c for c in harness.comments(city.repo, n) if "veilleur-template:stale" in c.body] == []


def test_stale_nudges_closes_then_reopens_on_reply(
    harness_factory: Any, city: City, forge: Any
) -> None:
    cfg = forge.get_repo(city.repo).files["main"][".github/veilleur.yml"]
    forge.set_file(
        city.repo,
        ".github/veilleur.yml",
        cfg + "stale:\n  enabled: true\n  nudge_after_days: 3\n  close_after_days: 6\n",
    )
    h = harness_factory()
    forge.scenario.install(city.org)
    h.wait()
    n = open_at(h, MON, city)
    never_answered = open_at(h, MON, city, city.citizen_nl)
    h.clock.set(MON + timedelta(hours=1))
    forge.scenario.comment(city.repo, n, city.maintainer, "Can you share a screenshot?")
    h.wait()
    h.sweep(MON + timedelta(days=2))  # 2 business days: nothing yet
    nudge = f"veilleur-template:{T.STALE_NUDGE}/"
    assert [c for c in h.comments(city.repo, n) if nudge in c.body] == []
    h.sweep(MON + timedelta(days=4))  # Fri: > 3 business days
    h.sweep(MON + timedelta(days=4, hours=2))
    assert len([c for c in h.comments(city.repo, n) if nudge in c.body]) == 1
    h.sweep(MON + timedelta(days=9))  # Wed of week 2: > 6 business days
    assert forge.get_issue(city.repo, n).state == "closed"
    assert forge.get_issue(city.repo, never_answered).state == "open"  # never auto-closed
    h.clock.set(MON + timedelta(days=9, hours=2))
    forge.scenario.comment(city.repo, n, city.citizen_en, "Sorry, here it is.")
    h.wait()
    issue = forge.get_issue(city.repo, n)
    assert issue.state == "open" and "awaiting-maintainer" in issue.labels
    assert h.failures() == []


def test_backlog_from_before_installation_is_listed_not_reminded(
    harness_factory: Any, city: City, forge: Any
) -> None:
    forge.clock.set(MON)
    old = forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Old request",
        "An old request from before Veilleur was installed, never answered.",
    )
    h = harness_factory()
    h.clock.set(MON + timedelta(days=7))
    forge.scenario.install(city.org)
    h.wait()
    forge.scenario.comment(city.repo, old, city.citizen_en, "Any news?")  # Veilleur now records it
    h.wait()
    h.sweep(MON + timedelta(days=21))
    assert reminders(h, city, old) == []
    lists = h.issues_titled(city.repo, WAITING_TITLE)
    assert len(lists) == 1 and f"#{old}" in lists[0].body


def test_remind_command_dry_run_then_for_real(
    harness: Harness,
    city: City,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`veilleur remind --at … [--dry-run]`: the evaluation instant only; the data is the record."""
    from bot.cli import main

    n = open_at(harness, MON, city)
    s = harness.settings
    monkeypatch.setenv("VEILLEUR_APP_ID", str(s.app_id))
    monkeypatch.setenv(
        "VEILLEUR_PRIVATE_KEY", s.private_key.get_secret_value() if s.private_key else ""
    )
    monkeypatch.setenv("VEILLEUR_GITHUB_API_URL", s.github_api_url)
    monkeypatch.setenv("VEILLEUR_DATABASE_URL", s.database_url)
    early = (MON + timedelta(days=1)).isoformat()
    late = (MON + timedelta(days=3)).isoformat()
    assert main(["remind", "--at", early, "--dry-run"]) == 0
    assert "veilleur:reminder:" not in capsys.readouterr().out
    assert main(["remind", "--org", city.org, "--at", late, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "(dry-run)" in out and "veilleur:reminder:" in out
    harness.wait()
    assert reminders(harness, city, n) == []  # dry-run acted on nothing
    assert main(["remind", "--org", city.org, "--at", late]) == 0
    harness.wait()
    assert len(reminders(harness, city, n)) == 1
    assert (
        main(["remind", "--org", city.org, "--at", late]) == 0
    )  # the same sweep again: no second reminder
    harness.wait()
    assert len(reminders(harness, city, n)) == 1
