"""`GitLabAPI` against the simulated GitLab over HTTP: access levels, well-known files and the
group's gitlab-profile, pagination, notes found again, labels, and GitLab's rate limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from bot.clock import FrozenClock
from bot.config.loader import ConfigLoader
from bot.config.schema import VeilleurConfig
from bot.forge.errors import RateLimited
from bot.forge.names import org_config_repo
from bot.gitlab.client import GitLabAPI
from bot.gitlab.numbers import MR_BASE
from bot.gitlab.transport import Transport
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.sim.gitlab.items import approve, comment, open_issue, open_merge_request
from bot.storage.db import make_engine
from bot.storage.models import ConfigRecord
from bot.web.config_view import config_in_force

HOST = "127.0.0.1"
REPO = f"{HOST}/utrecht/kaart"


def seed(world: GitLabWorld) -> None:
    for login in ("sanne", "daan", "jan", "rita"):
        world.add_user(login, name=login.title())
    world.add_group("utrecht")
    world.add_group("utrecht/beheer")
    world.add_project(
        "utrecht/kaart",
        files={"CONTRIBUTING.md": "Bijdragen\n", ".gitlab/issue_templates/bug.md": "x"},
    )
    world.add_project("utrecht/gitlab-profile", files={".gitlab/veilleur.yml": "language: nl\n"})
    world.add_member("utrecht", "veilleur-bot", 40)
    world.add_member("utrecht", "sanne", 50)
    world.add_member("utrecht/beheer", "daan", 30)
    world.add_member("utrecht/kaart", "rita", 20)


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def api(gitlab_world: GitLabWorld, gitlab_server: GitLabServer) -> AsyncIterator[GitLabAPI]:
    seed(gitlab_world)
    transport = Transport(
        gitlab_server.url, gitlab_world.api_token, clock=gitlab_world.clock, sleep=Sleeps()
    )
    yield GitLabAPI(transport, HOST)
    await transport.aclose()


async def test_access_levels_give_veilleurs_permissions(api: GitLabAPI) -> None:
    assert await api.collaborator_permission(REPO, "sanne") == "admin"  # Owner, inherited
    assert await api.collaborator_permission(REPO, "rita") == "read"  # Reporter on the project
    assert await api.collaborator_permission(REPO, "jan") is None
    assert await api.is_org_member(f"{HOST}/utrecht", "sanne")
    assert not await api.is_org_member(f"{HOST}/utrecht", "daan")  # only in a subgroup
    assert await api.team_membership(f"{HOST}/utrecht", "beheer", "daan") == "active"
    assert not await api.is_org_member(f"{HOST}/utrecht", "rita")  # Reporter is not Developer


async def test_well_known_files_are_read_at_gitlabs_places(
    api: GitLabAPI, gitlab_world: GitLabWorld
) -> None:
    group_files = org_config_repo(f"{HOST}/utrecht")  # the group's gitlab-profile
    assert await api.get_file(group_files, ".github/veilleur.yml") == "language: nl\n"
    assert await api.get_file(REPO, ".github/veilleur.yml") is None
    templates = await api.list_dir(REPO, ".github/ISSUE_TEMPLATE")
    assert [t["path"] for t in templates] == [".github/ISSUE_TEMPLATE/bug.md"]
    assert await api.get_file(REPO, templates[0]["path"]) == "x"
    profile = await api.community_profile(REPO)
    assert profile is not None and profile["files"]["contributing"]["html_url"].endswith(
        "/-/blob/main/CONTRIBUTING.md"
    )
    assert profile["files"]["code_of_conduct_file"] is None


async def test_config_falls_back_to_the_groups_gitlab_profile(
    api: GitLabAPI, gitlab_world: GitLabWorld, tmp_path: object
) -> None:
    engine = _engine(tmp_path)
    loader = ConfigLoader(engine, FrozenClock(gitlab_world.clock.now()))
    resolved = await loader.for_repo(api, REPO, "main")
    assert resolved.config.language == "nl" and not resolved.errors
    gitlab_world.projects["utrecht/kaart"].files[".gitlab/veilleur.yml"] = "language: de\n"
    loader.invalidate(REPO)
    assert (await loader.for_repo(api, REPO, "main")).config.language == "de"


async def test_an_error_in_the_groups_file_names_its_gitlab_profile(
    api: GitLabAPI, gitlab_world: GitLabWorld, tmp_path: object
) -> None:
    """The group's file lives in its gitlab-profile project, at `.gitlab/veilleur.yml`: the
    error (and the list of files read) says so, not `<group>/.github/.github/veilleur.yml`."""
    profile = gitlab_world.projects["utrecht/gitlab-profile"]
    profile.files[".gitlab/veilleur.yml"] = "language: nl\nlabels:\n  overdu: laat\n"
    loader = ConfigLoader(_engine(tmp_path), FrozenClock(gitlab_world.clock.now()))
    resolved = await loader.for_repo(api, REPO, "main")
    where = f"{HOST}/utrecht/gitlab-profile/.gitlab/veilleur.yml"
    assert [(e.file, e.line, e.path) for e in resolved.errors] == [(where, 3, "labels.overdu")]
    assert where in resolved.source_files


async def test_an_error_in_the_projects_own_file_names_gitlabs_path(
    api: GitLabAPI, gitlab_world: GitLabWorld, tmp_path: object
) -> None:
    """A project's own file is `.gitlab/veilleur.yml`: its errors, the files read and the
    dashboard's record say so, not `.github/veilleur.yml`, which a GitLab project lacks."""
    own = "language: de\nsla:\n  bogus: 1\n"
    gitlab_world.projects["utrecht/kaart"].files[".gitlab/veilleur.yml"] = own
    engine = _engine(tmp_path)
    resolved = await ConfigLoader(engine, FrozenClock(gitlab_world.clock.now())).for_repo(
        api, REPO, "main"
    )
    assert [(e.file, e.line, e.path) for e in resolved.errors] == [
        (".gitlab/veilleur.yml", 3, "sla.bogus")
    ]
    assert str(resolved.errors[0]).startswith(".gitlab/veilleur.yml:3: sla.bogus")
    assert ".gitlab/veilleur.yml" in resolved.source_files
    assert not [f for f in resolved.source_files if ".github/" in f]
    with Session(engine) as session:  # type: ignore[arg-type]
        record = session.get(ConfigRecord, REPO.lower())
        assert record is not None and ".gitlab/veilleur.yml" in (record.errors_json or "")


async def test_the_dashboard_credits_the_groups_file_with_what_it_sets(
    api: GitLabAPI, gitlab_world: GitLabWorld, tmp_path: object
) -> None:
    """Only the group's file (in gitlab-profile) sets the language: the configuration in force
    says it comes from the organisation; once the project sets one, from the repository."""
    engine = _engine(tmp_path)
    loader = ConfigLoader(engine, FrozenClock(gitlab_world.clock.now()))
    await loader.for_repo(api, REPO, "main")
    assert _source(engine, "language") == "organisation"
    gitlab_world.projects["utrecht/kaart"].files[".gitlab/veilleur.yml"] = "language: de\n"
    loader.invalidate(REPO)
    await loader.for_repo(api, REPO, "main")
    assert _source(engine, "language") == "repository"


def test_a_record_stored_with_the_old_names_shows_right_at_once(tmp_path: object) -> None:
    """A record stored before GitLab's files had their own names (the project's file as
    `.github/veilleur.yml`) is read right until the files are read again."""
    engine = _engine(tmp_path)
    group_file = f"{HOST}/utrecht/gitlab-profile/.gitlab/veilleur.yml"
    sources = ["config/default.yml", group_file, ".github/veilleur.yml"]
    config = VeilleurConfig.model_validate({"language": "de"})
    with Session(engine) as session:  # type: ignore[arg-type]
        session.add(
            ConfigRecord(
                repo_full_name=REPO.lower(),
                fetched_at=datetime(2026, 3, 2, tzinfo=UTC),
                valid_json=config.model_dump_json(by_alias=True),
                errors_json=json.dumps({"errors": [], "sources": sources}),
            )
        )
        session.commit()
    assert _source(engine, "language") == "repository"


def _source(engine: object, path: str) -> str:
    shown = config_in_force(engine, f"{HOST}/utrecht", REPO)  # type: ignore[arg-type]
    (setting,) = [s for s in shown.settings if s.path == path]
    return setting.source


def _engine(tmp_path: object) -> object:
    from bot.storage.migrate import upgrade as migrate

    url = f"sqlite:///{tmp_path}/c.db"
    migrate(url)
    return make_engine(url)


async def test_items_notes_and_labels(api: GitLabAPI, gitlab_world: GitLabWorld) -> None:
    issue = open_issue(gitlab_world, "utrecht/kaart", "jan", "Kaart laadt niet", "Bij inzoomen")
    for i in range(130):
        comment(gitlab_world, "utrecht/kaart", issue["iid"], "jan", f"nog steeds {i}")
    notes = await api.list_comments(REPO, issue["iid"])
    assert len(notes) == 130 and notes[0]["user"]["login"] == "jan"  # every page, oldest first
    mine = await api.create_comment(REPO, issue["iid"], "<!-- m -->\nDank je")
    await api.update_comment(REPO, mine["id"], "<!-- m -->\nDank je wel")
    assert (await api.list_comments(REPO, issue["iid"]))[-1]["body"].endswith("wel")
    assert api.own_login == "veilleur-bot"
    assert await api.get_label(REPO, "external") is None
    await api.create_label(REPO, "external", "0e8a16", "Opened from outside")
    await api.create_label(REPO, "external", "0e8a16", "again: already there, fine")
    assert (await api.get_label(REPO, "external")) == {
        "name": "external", "color": "0e8a16", "description": "Opened from outside"
    }  # fmt: skip
    await api.add_labels(REPO, issue["iid"], ["external", "needs-triage"])
    await api.remove_label(REPO, issue["iid"], "needs-triage")
    got = await api.get_issue(REPO, issue["iid"])
    assert [lbl["name"] for lbl in got["labels"]] == ["external"]
    await api.update_issue(REPO, issue["iid"], state="closed")
    assert (await api.get_issue(REPO, issue["iid"]))["state"] == "closed"


async def test_merge_requests_are_numbered_apart_and_read_as_pulls(
    api: GitLabAPI, gitlab_world: GitLabWorld
) -> None:
    open_issue(gitlab_world, "utrecht/kaart", "jan", "Issue one")
    mr = open_merge_request(gitlab_world, "utrecht/kaart", "jan", "Draft: kaart", "", ["a.md"])
    approve(gitlab_world, "utrecht/kaart", mr["iid"], "sanne")
    number = MR_BASE + mr["iid"]
    pull = await api.get_pull(REPO, number)
    assert (pull["number"], pull["draft"], pull["user"]["login"]) == (number, True, "jan")
    assert [f["filename"] for f in await api.list_pull_files(REPO, number)] == ["a.md"]
    assert await api.approvals(REPO, number) == ["sanne"]
    both = await api.list_issues(REPO, state="all", creator="jan")
    assert sorted(i["number"] for i in both) == [1, number]
    assert (await api.get_issue(REPO, 1))["number"] == 1  # issue #1 and merge request !1 differ


async def test_a_short_throttle_is_waited_a_long_one_pauses_the_host(
    api: GitLabAPI, gitlab_world: GitLabWorld
) -> None:
    sleeps = api.http._sleep
    assert isinstance(sleeps, Sleeps)
    gitlab_world.throttle_next = [3]
    assert (await api.get_repo(REPO))["full_name"] == REPO
    assert sleeps.waits == [3.0]
    gitlab_world.throttle_next = [600]
    with pytest.raises(RateLimited) as caught:
        await api.get_repo(REPO)
    assert caught.value.until == gitlab_world.clock.now() + timedelta(seconds=600)
    served = len(gitlab_world.requests)
    with pytest.raises(RateLimited):  # the host waits: nothing is sent meanwhile
        await api.get_repo(REPO)
    assert len(gitlab_world.requests) == served


async def test_an_exhausted_quota_pauses_until_the_reset(
    api: GitLabAPI, gitlab_world: GitLabWorld
) -> None:
    gitlab_world.rate_limit = gitlab_world.observed + 1
    await api.get_repo(REPO)  # the last request of the window: RateLimit-Remaining: 0
    with pytest.raises(RateLimited):
        await api.get_repo(REPO)
