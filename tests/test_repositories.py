"""`repository` events keep the record current: visibility, deletion, renames and transfers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

import handlers
from bot.dispatch.context import Event
from bot.storage.db import make_engine
from bot.storage.models import (
    ActionLog,
    BackfillCursor,
    ConfigRecord,
    Delivery,
    Installation,
    Item,
    Repository,
    TimelineEntry,
)
from bot.web.access import Access, known_repos
from handlers import repositories
from tests.conftest import WEBHOOK_EXAMPLES
from tests.test_records import ctx

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EXAMPLES = sorted((WEBHOOK_EXAMPLES / "repository").glob("*.json"))


def load(path: Any) -> Event:
    payload = json.loads(path.read_text())
    action = path.name.split(".")[0]
    return Event(name="repository", action=action, delivery="d", payload=payload)


def example(action: str) -> Event:
    return load(WEBHOOK_EXAMPLES / "repository" / f"{action}.payload.json")


@pytest.fixture
def engine(migrated: str) -> Any:
    eng = make_engine(migrated)
    yield eng
    eng.dispose()


def known(engine: Any, repo_id: int, full_name: str, *, private: bool = False) -> None:
    with Session(engine) as s:
        s.add(Installation(id=1, account_login=full_name.split("/")[0]))
        s.add(Repository(id=repo_id, installation_id=1, full_name=full_name,
                         owner=full_name.split("/")[0], private=private))  # fmt: skip
        s.commit()


def test_every_real_example_parses_to_the_repository_as_it_now_is() -> None:
    assert len(EXAMPLES) >= 10
    for path in EXAMPLES:
        event = load(path)
        change = repositories.parse(event)
        repo = event.payload["repository"]
        assert change is not None, path.name
        assert (change.repo_id, change.full_name) == (repo["id"], repo["full_name"])
        assert change.private is repo["private"]
        assert change.deleted is (event.action == "deleted")
    assert repositories.parse(Event("repository", "edited", "d", {"repository": []})) is None
    assert any(m is repositories for m in handlers.ALL)


async def test_a_privatized_repository_leaves_the_public_dashboard(engine: Any) -> None:
    event = example("privatized")
    repo = event.payload["repository"]
    known(engine, repo["id"], repo["full_name"], private=False)
    public = Access("public")
    assert [r.full_name for r in known_repos(engine) if public.allows(r)] == [repo["full_name"]]
    await repositories.handle(event, ctx(engine))
    assert [r.full_name for r in known_repos(engine) if public.allows(r)] == []
    publicized = example("publicized")
    publicized.payload["repository"]["id"] = repo["id"]
    publicized.payload["repository"]["full_name"] = repo["full_name"]
    await repositories.handle(publicized, ctx(engine))
    assert [r.full_name for r in known_repos(engine) if public.allows(r)] == [repo["full_name"]]


async def test_a_rename_moves_the_record_of_its_items(engine: Any) -> None:
    event = example("renamed")
    repo_id, new = event.payload["repository"]["id"], event.payload["repository"]["full_name"]
    old = new.split("/")[0] + "/Old-Name"
    known(engine, repo_id, old)
    with Session(engine) as s:
        for number in (1, 2):
            s.add(Item(repo_full_name=old, owner="Octocoders", number=number, kind="issue",
                       created_at=NOW, title=f"old {number}"))  # fmt: skip
            s.add(TimelineEntry(repo_full_name=old, number=number, occurred_at=NOW,
                                kind="opened", source_key="opened"))  # fmt: skip
        # an event about #2 processed under the new name before the rename's own
        s.add(Item(repo_full_name=new, owner="Octocoders", number=2, kind="issue",
                   created_at=NOW, title="new 2"))  # fmt: skip
        s.add(Delivery(guid="g1", seq=1, event="issues", repo_full_name=old, item_number=1,
                       received_at=NOW, payload=b"{}"))  # fmt: skip
        s.add(ConfigRecord(repo_full_name=old, fetched_at=NOW, valid_json="{}"))
        s.add(BackfillCursor(repo_full_name=old, kind="issues", items=3))
        for key in (f"welcome:{old}:ana:issue", f"sla:{old}#1:first_response:reminder:1",
                    f"welcome:{old}-fork:ana:issue"):  # fmt: skip
            s.add(ActionLog(key=key, done_at=NOW))
        s.commit()
    await repositories.handle(event, ctx(engine))
    with Session(engine) as s:
        items = {(i.repo_full_name, i.number): i.title for i in s.exec(select(Item))}
        entries = {(e.repo_full_name, e.number) for e in s.exec(select(TimelineEntry))}
        moved = s.get(Repository, repo_id)
        assert items == {(new, 1): "old 1", (new, 2): "new 2", (old, 2): "old 2"}
        assert entries == {(new, 1), (new, 2)}
        assert s.get(Delivery, "g1").repo_full_name == new  # type: ignore[union-attr]
        assert s.get(ConfigRecord, old) is None  # fetched again under the new name
        assert s.get(BackfillCursor, (new, "issues")) is not None
        assert moved is not None and (moved.full_name, moved.owner) == (new, "Octocoders")
        keys = set(s.exec(select(ActionLog.key)))
        assert keys == {f"welcome:{new}:ana:issue", f"sla:{new}#1:first_response:reminder:1",
                        f"welcome:{old}-fork:ana:issue"}  # fmt: skip


async def test_a_transfer_changes_the_owner_of_its_items(engine: Any) -> None:
    event = example("transferred")
    repo_id, new = event.payload["repository"]["id"], event.payload["repository"]["full_name"]
    old = "octocat/" + new.split("/")[1]
    known(engine, repo_id, old)
    with Session(engine) as s:
        s.add(Item(repo_full_name=old, owner="octocat", number=5, kind="pull", created_at=NOW))
        s.commit()
    await repositories.handle(event, ctx(engine))
    with Session(engine) as s:
        item = s.exec(select(Item)).one()
        assert (item.repo_full_name, item.owner) == (new, new.split("/")[0])


async def test_deleted_and_unknown_repositories(engine: Any) -> None:
    await repositories.handle(example("renamed"), ctx(engine))  # not installed here
    with Session(engine) as s:
        assert s.exec(select(Repository)).all() == []
    # The examples hold no `deleted` one: the same payload shape with that action.
    event = example("privatized")
    event = Event("repository", "deleted", "d", event.payload)
    repo = event.payload["repository"]
    known(engine, repo["id"], repo["full_name"])
    await repositories.handle(event, ctx(engine))
    with Session(engine) as s:
        row = s.get(Repository, repo["id"])
        assert row is not None and row.removed_at == ctx(engine).now()
    assert known_repos(engine) == []  # a deleted repository is shown to nobody
