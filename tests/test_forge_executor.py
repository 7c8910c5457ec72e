"""The Executor on the Forge protocol, the same steps on both forges' clients (GitHubAPI over
the simulated GitHub, GitLabAPI over the simulated GitLab): marked comments edited in place,
marked issues found again, labels created once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.effects.actions import (
    AddLabels,
    EnsureLabel,
    RemoveLabel,
    UpsertComment,
    UpsertIssue,
    marker,
)
from bot.effects.executor import Executor
from bot.forge import Forge, node_ids
from bot.github.client import GitHubAPI, make_app_client
from bot.gitlab.client import GitLabAPI
from bot.gitlab.transport import Transport
from bot.record.repo_cache import RepoCache
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.sim.gitlab.items import open_issue
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from tests.simforge_fixtures import seed_world


@dataclass
class Target:
    api: Forge
    repo: str
    number: int
    bot_login: str | None
    comments: Callable[[], list[str]]  # bodies of the item's comments, from the forge itself
    issues: Callable[[], list[str]]  # titles of the repository's issues
    requests: Callable[[], int]  # how many requests the forge has served


@pytest.fixture(params=["github", "gitlab"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    if request.param == "github":
        forge = request.getfixturevalue("forge")
        settings = request.getfixturevalue("forge_settings")
        world = seed_world(forge)
        n = forge.scenario.open_issue(world.repo, world.outsider, "Carte", "La carte est cassée")
        api = GitHubAPI(make_app_client(settings), world.installation_id)
        repo = forge.get_repo(world.repo)
        yield Target(
            api, world.repo, n, forge.bot_login,
            lambda: [c.body for c in repo.comments.values() if c.issue_number == n],
            lambda: [i.title for i in repo.issues.values()],
            lambda: len(forge.requests),
        )  # fmt: skip
        return
    gl: GitLabWorld = request.getfixturevalue("gitlab_world")
    server: GitLabServer = request.getfixturevalue("gitlab_server")
    gl.add_user("jan")
    project = gl.add_project("utrecht/kaart")
    gl.add_member("utrecht", "veilleur-bot", 40)
    iid = open_issue(gl, "utrecht/kaart", "jan", "Kaart", "De kaart is kapot")["iid"]
    transport = Transport(server.url, gl.api_token, clock=gl.clock)
    yield Target(
        GitLabAPI(transport, "127.0.0.1"), "127.0.0.1/utrecht/kaart", iid, "veilleur[bot]",
        lambda: [n["body"] for n in project.notes.get(("issues", iid), [])],
        lambda: [i["title"] for i in project.issues.values()],
        lambda: len(gl.requests),
    )  # fmt: skip
    await transport.aclose()


def executor(
    target: Target, tmp_path: Path, clock: Any, cache: RepoCache | None = None
) -> Executor:
    url = f"sqlite:///{tmp_path}/e.db"
    upgrade(url)
    engine = make_engine(url)
    return Executor(
        engine=engine, clock=clock, api=target.api, bot_login=target.bot_login, repo_cache=cache
    )


async def test_a_marked_comment_is_edited_in_place(
    target: Target, tmp_path: Path, forge_clock: FrozenClock
) -> None:
    ex = executor(target, tmp_path, forge_clock)
    mark = marker("status", f"{target.repo}#{target.number}")
    for body in ("Bezig", "Klaar"):
        await ex.apply([UpsertComment(target.repo, target.number, mark, body)])
    mine = [c for c in target.comments() if mark in c]
    assert mine == [f"{mark}\nKlaar"]


async def test_a_marked_issue_is_found_again_without_its_record(
    target: Target, tmp_path: Path, forge_clock: FrozenClock
) -> None:
    mark = marker("waiting-list", target.repo)
    action = UpsertIssue(target.repo, mark, "Wachtlijst", "1 bijdrage wacht")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    await executor(target, tmp_path / "a", forge_clock).apply([action])
    await executor(target, tmp_path / "b", forge_clock).apply([action])  # a new, empty record
    assert target.issues().count("Wachtlijst") == 1


async def test_labels_are_created_when_missing_then_added(
    target: Target, tmp_path: Path, forge_clock: FrozenClock
) -> None:
    ex = executor(target, tmp_path, forge_clock)
    actions = [
        EnsureLabel(target.repo, "external", "0e8a16", "Opened from outside"),
        AddLabels(target.repo, target.number, ("external",)),
    ]
    await ex.apply(actions)
    await ex.apply(actions)
    label = await target.api.get_label(target.repo, "external")
    assert label is not None and label["color"] == "0e8a16"
    issue = await target.api.get_issue(target.repo, target.number)
    assert [lbl["name"] for lbl in issue["labels"]] == ["external"]


async def test_labels_added_and_removed_in_one_request(
    target: Target, tmp_path: Path, forge_clock: FrozenClock
) -> None:
    """A turn's labels: on GitHub one GraphQL request with the ids the event and the label
    cache know (over REST: a `POST` and a `DELETE` per label), on GitLab one update."""
    ex = executor(target, tmp_path, forge_clock, RepoCache(forge_clock))
    repo, n = target.repo, target.number
    ensure = [EnsureLabel(repo, name, "ededed", "") for name in ("answer", "asked", "triage")]
    await ex.apply([*ensure, AddLabels(repo, n, ("asked", "triage"))])
    ex.node_ids = node_ids.of_event(repo, await target.api.get_issue(repo, n))  # the event's
    before = target.requests()
    await ex.apply(
        [AddLabels(repo, n, ("answer",)), *[RemoveLabel(repo, n, x) for x in ("asked", "triage")]]
    )
    assert target.requests() - before == 1
    issue = await target.api.get_issue(repo, n)
    assert [lbl["name"] if isinstance(lbl, dict) else lbl for lbl in issue["labels"]] == ["answer"]


async def test_a_label_removed_then_added_keeps_the_plans_order(
    target: Target, tmp_path: Path, forge_clock: FrozenClock
) -> None:
    ex = executor(target, tmp_path, forge_clock, RepoCache(forge_clock))
    repo, n = target.repo, target.number
    await ex.apply([EnsureLabel(repo, "x", "ededed", ""), AddLabels(repo, n, ("x",))])
    ex.node_ids = node_ids.of_event(repo, await target.api.get_issue(repo, n))
    await ex.apply([RemoveLabel(repo, n, "x"), AddLabels(repo, n, ("x",))])
    issue = await target.api.get_issue(repo, n)
    assert [lbl["name"] if isinstance(lbl, dict) else lbl for lbl in issue["labels"]] == ["x"]
