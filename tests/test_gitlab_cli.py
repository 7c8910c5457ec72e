"""`veilleur backfill --org host/group` on the simulated GitLab: every project of the group and
its subgroups, resumable (a rerun continues, `--restart` starts over), `--since`, rate limits
waited out, and one sentence when the group or the instance is not the configured one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.cli import main
from bot.clock import FrozenClock
from bot.gitlab import cli as gitlab_cli
from bot.gitlab.transport import Transport
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.sim.gitlab.items import add_note, new_item
from bot.storage.db import make_engine
from bot.storage.models import Item, Repository, TimelineEntry

HOST = "127.0.0.1"


@pytest.fixture
def env(
    gitlab_world: GitLabWorld,
    gitlab_server: GitLabServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> str:
    monkeypatch.setenv("VEILLEUR_GITLAB_URL", gitlab_server.url)
    monkeypatch.setenv("VEILLEUR_GITLAB_TOKEN", gitlab_world.api_token)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    world = gitlab_world
    for group in ("utrecht", "utrecht/wijken", "rotterdam"):
        world.add_group(group)
    world.add_member("utrecht", "veilleur-bot", 40)
    world.add_member("rotterdam", "veilleur-bot", 40)
    world.add_user("jan")
    for path in ("utrecht/kaart", "utrecht/wijken/afval", "rotterdam/haven"):
        world.add_project(path)
    return f"sqlite:///{tmp_path / 'cli.db'}"


def add_items(world: GitLabWorld, path: str, count: int, notes: int = 1) -> None:
    project, jan = world.projects[path], world.user("jan")["id"]
    for i in range(count):
        item = new_item(world, project, jan, f"Item {i}", "tekst", merge=i % 5 == 4)
        for k in range(notes):
            add_note(world, project, item, jan, f"noot {k}")


def recorded(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with Session(engine) as s:
        items = [(i.repo_full_name, i.number) for i in s.exec(select(Item))]
        kinds = [(e.repo_full_name, e.kind) for e in s.exec(select(TimelineEntry))]
        repos = {r.full_name for r in s.exec(select(Repository))}
    engine.dispose()
    return {"items": items, "entries": kinds, "repos": repos}


def backfill(url: str, *more: str) -> int:
    return main(["--database-url", url, "backfill", "--org", f"{HOST}/utrecht", *more])


def test_every_project_of_the_group_and_its_subgroups_is_imported(
    env: str, gitlab_world: GitLabWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    add_items(gitlab_world, "utrecht/kaart", 30, notes=2)
    add_items(gitlab_world, "utrecht/wijken/afval", 5)
    add_items(gitlab_world, "rotterdam/haven", 7)  # another group: not imported
    assert backfill(env) == 0
    out = capsys.readouterr().out
    got = recorded(env)
    assert got["repos"] == {f"{HOST}/utrecht/kaart", f"{HOST}/utrecht/wijken/afval"}
    assert {r for r, _ in got["items"]} == got["repos"] and len(got["items"]) == 35
    assert sum(1 for _, kind in got["entries"] if kind == "commented") == 30 * 2 + 5
    assert "2 projects, 35 items" in out and "GraphQL" in out and "per 1,000 items" in out


def test_a_rerun_reads_nothing_again_and_restart_starts_over(
    env: str, gitlab_world: GitLabWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    add_items(gitlab_world, "utrecht/kaart", 12)
    assert backfill(env) == 0
    first = recorded(env)
    capsys.readouterr()
    served = len(gitlab_world.requests)
    assert backfill(env) == 0
    assert "2 projects, 0 items" in capsys.readouterr().out
    assert len(gitlab_world.requests) - served == 1  # the group's projects, nothing else
    assert backfill(env, "--restart") == 0
    assert "2 projects, 12 items (0 new timeline entries)" in capsys.readouterr().out
    assert sorted(recorded(env)["entries"]) == sorted(first["entries"])


def test_since_imports_only_what_changed_since(
    env: str, gitlab_world: GitLabWorld, forge_clock: FrozenClock
) -> None:
    add_items(gitlab_world, "utrecht/kaart", 20)
    forge_clock.advance(timedelta(days=30))
    cut = forge_clock.now()
    forge_clock.advance(timedelta(hours=1))
    add_items(gitlab_world, "utrecht/wijken/afval", 3)
    project, jan = gitlab_world.projects["utrecht/kaart"], gitlab_world.user("jan")["id"]
    add_note(gitlab_world, project, project.issues[2], jan, "nog iets")  # updated since too
    assert backfill(env, "--since", cut.isoformat()) == 0
    numbers = sorted(recorded(env)["items"])
    assert numbers == [(f"{HOST}/utrecht/kaart", 2)] + [
        (f"{HOST}/utrecht/wijken/afval", n) for n in (1, 2, 3)
    ]


def test_a_rate_limit_is_waited_out_and_the_import_goes_on_from_its_cursor(
    env: str, gitlab_world: GitLabWorld, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    add_items(gitlab_world, "utrecht/kaart", 150)
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(gitlab_cli, "SLEEP", no_sleep)
    original = Transport.graphql

    async def throttled(self: Transport, query: str, variables: dict[str, Any]) -> Any:
        if "101" in variables["iids"] and not waits:  # GitLab: wait ten minutes
            gitlab_world.throttle_next = [600]
        return await original(self, query, variables)

    monkeypatch.setattr(Transport, "graphql", throttled)
    assert backfill(env) == 0
    assert len(waits) == 1 and 590 <= waits[0] <= 600
    got = recorded(env)
    assert len(got["items"]) == 150
    assert sum(1 for _, kind in got["entries"] if kind == "commented") == 150
    first_pages = [p for _, p in gitlab_world.requests if p.endswith("utrecht%2Fkaart/issues")]
    assert len(first_pages) == 3  # pages 1 and 2, then page 2 again after the wait
    assert "waited 6" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("org", "says"),
    [
        (f"{HOST}/amsterdam", "the GitLab token sees no group 'amsterdam'"),
        ("gitlab.example.org/utrecht", "is not on VEILLEUR_GITLAB_URL (127.0.0.1)"),
    ],
)
def test_a_group_the_token_cannot_reach_is_one_sentence(
    env: str, org: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", env, "backfill", "--org", org]) == 2
    assert says in capsys.readouterr().err


def test_without_a_gitlab_instance_the_command_says_so(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VEILLEUR_GITLAB_URL")
    assert backfill(env) == 2
    assert "VEILLEUR_GITLAB_URL must be set" in capsys.readouterr().err
