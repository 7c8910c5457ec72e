"""History import from the simulated GitLab: every item and note recorded once, with the
webhooks' keys, resumable after a rate limit, and counted in requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.forge.errors import RateLimited
from bot.gitlab.backfill import GitLabBackfill
from bot.gitlab.client import GitLabAPI
from bot.gitlab.numbers import MR_BASE
from bot.gitlab.transport import Transport
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.sim.gitlab.items import comment, new_item
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from bot.storage.models import Item, TimelineEntry

REPO = "127.0.0.1/utrecht/kaart"


def seed(world: GitLabWorld, issues: int, merges: int) -> None:
    world.add_user("jan")
    world.add_user("sanne")
    world.add_member(
        "utrecht/kaart" if "utrecht/kaart" in world.projects else "utrecht", "sanne", 40
    )
    project = world.projects["utrecht/kaart"]
    jan, sanne = world.user("jan")["id"], world.user("sanne")["id"]
    for i in range(issues):
        new_item(world, project, jan, f"Issue {i}", "tekst")
    for i in range(merges):
        new_item(world, project, jan, f"MR {i}", "tekst", merge=True)
    project.issues[1]["state"] = "closed"
    project.issues[1]["closed_at"] = world.now()
    world.sender = type("Quiet", (), {"send": lambda self, *a: None})()
    comment(world, "utrecht/kaart", 2, "sanne", "Welke browser?")
    comment(world, "utrecht/kaart", 2, "jan", "Firefox")
    if merges:
        comment(world, "utrecht/kaart", 1, "sanne", "Dank!", merge=True)
    del sanne


@pytest.fixture
async def setup(
    gitlab_world: GitLabWorld, gitlab_server: GitLabServer, tmp_path: Path
) -> AsyncIterator[tuple[GitLabBackfill, GitLabWorld]]:
    gitlab_world.add_group("utrecht")
    gitlab_world.add_project("utrecht/kaart")
    gitlab_world.add_member("utrecht", "veilleur-bot", 40)
    url = f"sqlite:///{tmp_path}/b.db"
    upgrade(url)
    transport = Transport(gitlab_server.url, gitlab_world.api_token, clock=gitlab_world.clock)
    yield (
        GitLabBackfill(make_engine(url), GitLabAPI(transport, "127.0.0.1"), gitlab_world.clock),
        gitlab_world,
    )
    await transport.aclose()


async def test_every_item_and_note_is_recorded_once(
    setup: tuple[GitLabBackfill, GitLabWorld],
) -> None:
    backfill, world = setup
    seed(world, issues=150, merges=20)
    done = await backfill.run(REPO)
    assert done.items == 170
    # 2 pages of issues + 1 of merge requests + 2 items with notes (one page each) + 1 page of
    # the project's members (the authors' classes)
    assert done.requests == 3 + 2 + 1
    with Session(backfill.engine) as s:
        items = list(s.scalars(select(Item).where(Item.repo_full_name == REPO)))
        entries = list(s.scalars(select(TimelineEntry)))
    assert len(items) == 170 and {i.number for i in items} >= {1, 150, MR_BASE + 20}
    closed = next(i for i in items if i.number == 1)
    assert closed.state == "closed" and closed.author_class == "external"
    comments = [e for e in entries if e.kind == "commented"]
    assert sorted(e.actor_login for e in comments) == ["jan", "sanne", "sanne"]
    again = await backfill.run(REPO)  # finished: nothing asked again
    assert again.requests == 0


async def test_a_rate_limit_stops_the_import_and_the_next_run_resumes(
    setup: tuple[GitLabBackfill, GitLabWorld],
) -> None:
    backfill, world = setup
    seed(world, issues=250, merges=0)
    world.throttle_next = []
    original = backfill.api.http.request

    async def throttled(method: str, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        if path.endswith("/issues") and kw["params"]["page"] == 3:  # GitLab: wait ten minutes
            world.throttle_next = [600]
        return await original(method, path, **kw)

    backfill.api.http.request = throttled  # type: ignore[method-assign]
    with pytest.raises(RateLimited):
        await backfill.run(REPO)
    with Session(backfill.engine) as s:
        assert len(list(s.scalars(select(Item)))) == 200  # two pages written before the pause
    backfill.api.http._pauses.clear()  # the ten minutes have passed
    backfill.api.http.request = original  # type: ignore[method-assign]
    resumed = await backfill.run(REPO)
    assert resumed.items == 50  # only the page that was refused, then the (empty) MRs
    with Session(backfill.engine) as s:
        assert len(list(s.scalars(select(Item)))) == 250
