"""The behaviours both forges share, one test body each, run on the simulated GitHub and on
the simulated GitLab (tests/forge_sites.py): the same city, config and people, the same
labels, comments and turns."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from bot.messages.templating import T
from bot.storage.models import Item
from tests.forge_sites import GitLabSite, Site
from tests.harness import City

C = City()


def test_an_outside_issue_is_labelled_and_welcomed_once(site: Site) -> None:
    n = site.open_issue(C.citizen_en, "Map is broken", "The map does not load when I zoom in.")
    assert site.harness.failures() == []
    assert {"external", "needs-triage"} <= site.labels(n)
    assert len(welcomes(site, n)) == 1
    site.comment(n, C.citizen_en, "It happens on every page, also on mobile.")
    site.comment(n, C.citizen_en, "And on the tablet.")
    assert len(welcomes(site, n)) == 1  # marked: found again, never posted twice


def welcomes(site: Site, number: int) -> list[str]:
    return [c for c in site.bot_comments(number) if "<!-- veilleur:welcome:" in c]


def test_a_member_and_a_maintainer_are_not_outsiders(site: Site) -> None:
    member = site.open_issue(C.private_member, "Refactor the tiles", "Internal cleanup of tiles.")
    maintainer = site.open_issue(C.maintainer, "Release 2.0", "Plan the next release soon.")
    assert site.harness.failures() == []
    assert "external" not in site.labels(member) | site.labels(maintainer)


def test_whose_turn_follows_the_conversation(site: Site) -> None:
    n = site.open_issue(C.citizen_en, "Map is broken", "The map does not load when I zoom in.")
    site.comment(n, C.maintainer, "Which browser do you use?")
    assert "awaiting-author" in site.labels(n)
    assert "needs-triage" not in site.labels(n)
    site.comment(n, C.citizen_en, "Firefox 128 on Linux.")
    labels = site.labels(n)
    assert "awaiting-maintainer" in labels and "awaiting-author" not in labels
    assert site.harness.failures() == []


def test_a_change_from_outside_is_recorded_with_its_forge(site: Site) -> None:
    n = site.open_change(
        C.citizen_nl, "Kaart repareren", "De kaart laadt niet goed.", ["docs/a.md"]
    )
    assert site.harness.failures() == []
    assert "external" in site.labels(n)
    with Session(site.harness.engine) as s:
        item = s.scalars(select(Item).where(Item.repo_full_name == site.repo)).one()
    assert (item.number, item.kind, item.author_login) == (n, "pull", C.citizen_nl)
    assert item.owner == site.repo.rpartition("/")[0]  # "paris", or "<gitlab host>/paris"


def test_a_change_to_the_config_is_checked_naming_the_file_where_it_lives(site: Site) -> None:
    """GitHub's `.github/veilleur.yml`, GitLab's `.gitlab/veilleur.yml`: a change to it is
    checked, and the check names the file the maintainer edits."""
    own = ".gitlab/veilleur.yml" if isinstance(site, GitLabSite) else ".github/veilleur.yml"
    site.change_config(C.maintainer, "language: fr\nlabels:\n  extrnal: outside\n")
    assert site.config_checks() == [(False, f"1 error(s) in {own}")]
    assert site.harness.failures() == []


PARIS = ZoneInfo("Europe/Paris")
MON = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)  # Monday 2 March 2026, no holiday that week
REMINDER = f"veilleur-template:{T.REMINDER}/"


def test_the_sla_reminds_in_business_days(site: Site) -> None:
    site.harness.clock.set(MON)
    n = site.open_issue(
        C.citizen_en, "Map is broken", "The map of the city does not load on my phone."
    )
    site.harness.sweep(MON + timedelta(days=2, hours=-1))  # Wed 09:00: 1.96 business days
    assert not [c for c in site.bot_comments(n) if REMINDER in c]
    site.harness.sweep(MON + timedelta(days=2, hours=1))  # Wed 11:00: past the 2-day SLA
    (reminder,) = [c for c in site.bot_comments(n) if REMINDER in c]
    assert "@hugo" in reminder and "overdue" in site.labels(n)
    assert site.harness.failures() == []


def test_commands_in_comments_follow_the_permission_rules(site: Site) -> None:
    n = site.open_issue(C.citizen_en, "Map is broken", "The map does not load when I zoom in.")
    site.comment(n, C.citizen_en, "/label +urgent")
    assert "urgent" not in site.labels(n)
    refusals = [c for c in site.bot_comments(n) if f"veilleur-template:{T.COMMAND_ERROR}/" in c]
    assert len(refusals) == 1
    site.comment(n, C.maintainer, "Thanks!\n\n/triage accepted\n/label +urgent\n/assign @marie")
    labels = site.labels(n)
    assert "urgent" in labels and "needs-triage" not in labels
    assert site.assignees(n) == [C.maintainer]
    assert site.harness.failures() == []
