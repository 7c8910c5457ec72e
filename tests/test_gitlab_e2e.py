"""What only GitLab has, end to end on the simulated GitLab: approvals stand for reviews, a
push to a merge request hands the turn back, drafts, and Veilleur's own notes are not
events for it. (What both forges share is in tests/test_forges.py.)"""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from bot.gitlab.numbers import split
from bot.sim.gitlab import items as gl
from bot.storage.models import Item
from tests.forge_sites import PROJECT, GitLabSite
from tests.harness import City

C = City()
CONFIG_ERROR = "Veilleur configuration error"
ON_GITLAB = pytest.mark.parametrize("site", ["gitlab"], indirect=True)


@ON_GITLAB
def test_push_and_approval_move_the_turn(site: GitLabSite) -> None:
    n = site.open_change(C.citizen_nl, "Kaart repareren", "De kaart laadt niet goed.", ["a.md"])
    site.comment(n, C.maintainer, "Kun je een test toevoegen?")
    assert "awaiting-author" in site.labels(n)
    iid = split(n)[1]
    gl.push(site.world, PROJECT, iid, C.citizen_nl, ["tests/test_a.py"])
    site.harness.wait()
    labels = site.labels(n)
    assert "awaiting-maintainer" in labels and "awaiting-author" not in labels
    gl.approve(site.world, PROJECT, iid, C.maintainer)  # an approval: a team review
    site.harness.wait()
    assert "awaiting-maintainer" not in site.labels(n)
    assert site.harness.failures() == []
    # GitLab sends hooks for Veilleur's own labels and notes too: accepted, and nothing more
    own = [
        (json.loads(body)["object_kind"], status)
        for _, body, status in site.world.sender.sent
        if json.loads(body)["user"]["username"] == site.world.bot["username"]
    ]
    assert {"note", "merge_request"} <= {kind for kind, _ in own}
    assert {status for _, status in own} == {202}
    assert len([c for c in site.bot_comments(n) if "veilleur:welcome" in c]) == 1


@ON_GITLAB
def test_a_draft_merge_request_is_recorded_as_a_draft(site: GitLabSite) -> None:
    n = site.open_change(C.citizen_nl, "Draft: kaart", "Nog niet klaar, wel al te zien.", ["a.md"])
    with Session(site.harness.engine) as s:
        item = s.scalars(select(Item).where(Item.number == n)).one()
    assert item.draft and item.kind == "pull"
    assert site.harness.failures() == []


@ON_GITLAB
def test_a_developer_of_the_project_alone_is_a_member(site: GitLabSite) -> None:
    site.world.add_member(PROJECT, C.citizen_fr, 30)  # Developer on the project, not the group
    n = site.open_issue(C.citizen_fr, "Tegels", "Opschonen van de tegels, intern werk.")
    assert "external" not in site.labels(n)
    reporter = site.open_issue(C.citizen_en, "Map is broken", "The map does not load at all.")
    assert "external" in site.labels(reporter)
    assert site.harness.failures() == []


@ON_GITLAB
def test_a_new_projects_history_is_imported_when_it_is_first_seen(site: GitLabSite) -> None:
    world = site.world
    with world.lock:  # a project with a past, none of it ever sent as a webhook
        project = world.add_project("paris/archief")
        old = [world.user(C.citizen_nl)["id"], world.user(C.maintainer)["id"]]
        for i in range(120):
            gl.new_item(world, project, old[i % 2], f"Oud {i}", "van vroeger", merge=i % 4 == 3)
        gl.add_note(world, project, project.issues[1], old[1], "Opgelost.")
    gl.open_issue(world, "paris/archief", C.citizen_nl, "Nieuw", "De kaart laadt niet.")
    site.harness.wait()
    repo = f"{site.host}/paris/archief"
    with Session(site.harness.engine) as s:
        items = list(s.scalars(select(Item).where(Item.repo_full_name == repo)))
    assert len(items) == 121
    assert sum(1 for i in items if i.kind == "pull") == 30
    assert site.harness.failures() == []


GROUP_FILES = "paris/gitlab-profile"  # the group's own files (bot.forge.names.org_config_repo)
WELCOME_FR = "veilleur/templates/fr/welcome_issue.md.j2"


def open_french_issue(site: GitLabSite) -> str:
    """The welcome of a French issue from outside the group."""
    n = site.open_issue(
        C.citizen_fr, "La carte ne s'affiche pas", "La carte des équipements ne s'affiche pas."
    )
    assert site.harness.failures() == []
    (welcome,) = [c for c in site.bot_comments(n) if "veilleur:welcome" in c]
    return welcome


@ON_GITLAB
def test_a_group_overrides_a_template_in_its_gitlab_profile(site: GitLabSite) -> None:
    """GitLab's place, beside the group's `.gitlab/veilleur.yml`, is read before the earlier."""
    site.world.add_project(
        GROUP_FILES,
        files={
            f".gitlab/{WELCOME_FR}": "Bienvenue à Paris, {{ author }} ! {{ 6 * 7 }}\n",
            f".github/{WELCOME_FR}": "Ancien accueil\n",
        },
    )
    assert "Bienvenue à Paris, camille ! 42" in open_french_issue(site)


@ON_GITLAB
def test_a_group_keeps_its_overrides_at_the_earlier_place(site: GitLabSite) -> None:
    """Without `.gitlab/veilleur/templates`, the group's `.github/veilleur/templates` is read."""
    site.world.add_project(GROUP_FILES, files={f".github/{WELCOME_FR}": "Coucou {{ author }} !\n"})
    assert "Coucou camille !" in open_french_issue(site)


@ON_GITLAB
@pytest.mark.parametrize("place", [".gitlab", ".github"])
def test_a_broken_group_override_is_named_where_it_is(site: GitLabSite, place: str) -> None:
    site.world.add_project(GROUP_FILES, files={f"{place}/{WELCOME_FR}": "Salut\n{{ 1/0 }}\n"})
    assert "Salut" not in open_french_issue(site)  # the packaged welcome, instead
    project = site.world.projects[PROJECT]
    (issue,) = [i for i in project.issues.values() if i["title"] == CONFIG_ERROR]
    where = f"{site.host}/{GROUP_FILES}/{place}/{WELCOME_FR}:2"
    assert where in issue["description"] and "division by zero" in issue["description"]
