"""`veilleur remind --dry-run` without the App settings: the same sweep, from the record alone.

Each case runs the CLI's `main()` in-process over a record the simulated forge filled.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, delete

from bot.cli import main
from bot.messages.templating import T
from bot.storage.models import ConfigRecord
from tests.harness import City, Harness

PARIS = ZoneInfo("Europe/Paris")
MON = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)  # Monday 2 March 2026, no holiday that week
APP_ENV = ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "GITHUB_API_URL", "DATABASE_URL")


@pytest.fixture
def no_app(monkeypatch: pytest.MonkeyPatch, harness: Harness, tmp_path: object) -> None:
    """Only the database is known: no App id, no key."""
    for name in APP_ENV:
        monkeypatch.delenv(f"VEILLEUR_{name}", raising=False)
    monkeypatch.chdir(str(tmp_path))  # no stray .env file
    monkeypatch.setenv("VEILLEUR_DATABASE_URL", harness.settings.database_url)


def as_app(monkeypatch: pytest.MonkeyPatch, h: Harness) -> None:
    s = h.settings
    monkeypatch.setenv("VEILLEUR_APP_ID", str(s.app_id))
    monkeypatch.setenv(
        "VEILLEUR_PRIVATE_KEY", s.private_key.get_secret_value() if s.private_key else ""
    )
    monkeypatch.setenv("VEILLEUR_GITHUB_API_URL", s.github_api_url)


def open_issue(h: Harness, city: City) -> int:
    h.clock.set(MON)
    n = h.forge.scenario.open_issue(
        city.repo,
        city.citizen_en,
        "Map is broken",
        "The map of the city does not load on my phone when I zoom in on my district.",
    )
    h.wait()
    return n


def remind(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["remind", "--dry-run", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_offline_dry_run_prints_what_the_app_dry_run_prints(
    harness: Harness,
    city: City,
    no_app: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    n = open_issue(harness, city)
    late = (MON + timedelta(days=2, hours=1)).isoformat()  # past the city's 2-day SLA
    offline = remind(capsys, "--org", city.org, "--at", late)
    assert offline[0].startswith("offline: configuration as last recorded")
    assert "CODEOWNERS not read" in offline[0]
    as_app(monkeypatch, harness)
    online = remind(capsys, "--org", city.org, "--at", late)
    assert not online[0].startswith("offline:")
    assert offline[1:] == online  # the same actions, and the same count line
    reminder = [line for line in online if "veilleur:reminder:" in line]
    assert len(reminder) == 1 and f"{city.repo}#{n}" in reminder[0]
    assert any("Contributions waiting for an answer" in line for line in online)
    harness.wait()
    posted = [c.body for c in harness.comments(city.repo, n)]
    assert not [b for b in posted if f"veilleur-template:{T.REMINDER}/" in b]  # a dry run


def test_offline_dry_run_falls_back_to_the_packaged_defaults(
    harness: Harness, city: City, no_app: None, capsys: pytest.CaptureFixture[str]
) -> None:
    open_issue(harness, city)
    wed = (MON + timedelta(days=2, hours=1)).isoformat()
    assert any("veilleur:reminder:" in line for line in remind(capsys, "--at", wed))
    with Session(harness.engine) as s:  # forget every recorded configuration
        s.execute(delete(ConfigRecord))
        s.commit()
    out = remind(capsys, "--at", wed)
    assert "packaged defaults for" in out[0] and "recorded for 0 repositories" in out[0]
    # The packaged 3-day SLA has not passed on Wednesday; the city's 2-day one had.
    assert not any("veilleur:reminder:" in line for line in out)
