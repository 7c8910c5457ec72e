"""A GitLab project renamed or moved to another group keeps its record: seen under its new
path (the hourly sync, or its next hook), its items, timeline, cursors and done effects follow
it, with the code GitHub's renames use (bot/record/rekey.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.gitlab.client import GitLabAPI
from bot.gitlab.forges import GitLabForges
from bot.gitlab.transport import Transport
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from bot.storage.models import ActionLog, BackfillCursor, Item, Repository, TimelineEntry

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
OLD, NEW = "127.0.0.1/utrecht/kaart", "127.0.0.1/provincie/kaart-nieuw"


@pytest.fixture
async def forges(
    gitlab_world: GitLabWorld, gitlab_server: GitLabServer, tmp_path: Path
) -> AsyncIterator[GitLabForges]:
    url = f"sqlite:///{tmp_path}/r.db"
    upgrade(url)
    gitlab_world.add_group("utrecht")
    gitlab_world.add_project("utrecht/kaart")
    gitlab_world.add_member("utrecht/kaart", "veilleur-bot", 40)
    transport = Transport(gitlab_server.url, gitlab_world.api_token, clock=gitlab_world.clock)
    out = GitLabForges(GitLabAPI(transport, "127.0.0.1"), make_engine(url), gitlab_world.clock)
    yield out
    await out.aclose()


def seed_record(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(Item(repo_full_name=OLD, owner="127.0.0.1/utrecht", number=1, kind="issue",
                   created_at=NOW, title="Kaart laadt niet"))  # fmt: skip
        s.add(TimelineEntry(repo_full_name=OLD, number=1, occurred_at=NOW, kind="opened",
                            source_key="opened"))  # fmt: skip
        s.add(ActionLog(key=f"welcome:{OLD}:jan:issue", done_at=NOW))
        s.commit()


async def test_a_moved_project_takes_its_record_along(
    forges: GitLabForges, gitlab_world: GitLabWorld
) -> None:
    assert forges.engine is not None
    assert await forges.sync() == 1  # recorded, its (empty) history imported: cursors saved
    seed_record(forges.engine)
    gitlab_world.move_project("utrecht/kaart", "provincie/kaart-nieuw")
    await forges.sync()
    with Session(forges.engine) as s:
        (repo,) = s.exec(select(Repository))
        item = s.exec(select(Item)).one()
        entry = s.exec(select(TimelineEntry)).one()
        keys = set(s.exec(select(ActionLog.key)))
        cursors = {c.repo_full_name for c in s.exec(select(BackfillCursor))}
    assert (repo.full_name, repo.owner) == (NEW, "127.0.0.1/provincie")
    assert (item.repo_full_name, item.owner, item.title) == (NEW, "127.0.0.1/provincie",
                                                             "Kaart laadt niet")  # fmt: skip
    assert entry.repo_full_name == NEW
    assert keys == {f"welcome:{NEW}:jan:issue"}  # nobody welcomed twice
    assert OLD not in cursors and NEW in cursors


async def test_the_next_hook_after_a_rename_rekeys_too(
    forges: GitLabForges, gitlab_world: GitLabWorld
) -> None:
    from bot.gitlab import projects

    assert forges.engine is not None
    await forges.sync()
    seed_record(forges.engine)
    pid = gitlab_world.projects["utrecht/kaart"].id
    hook_repo = {"id": pid, "full_name": NEW, "default_branch": "main", "private": False}
    assert projects.record(forges.engine, hook_repo, NOW) is False  # not new: a rename
    with Session(forges.engine) as s:
        assert {i.repo_full_name for i in s.exec(select(Item))} == {NEW}
