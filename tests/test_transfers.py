"""An issue transferred to another repository: the old one no longer waits, the new one
carries on its wait, from the real `issues.transferred` / `issues.opened` (with transfer)
payloads, in either order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import FrozenClock
from bot.dispatch.context import Context, Event
from bot.record import timeline
from bot.sla.calendar import BusinessCalendar
from bot.sla.rules import waiting_state
from bot.storage.db import make_engine
from bot.storage.models import ActionLog, Item, Repository, TimelineEntry
from handlers import records
from tests.conftest import WEBHOOK_EXAMPLES

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
OLD, NEW = ("octo-org/octo-repo", 1), ("Codertocat/Hello-World", 1)


@pytest.fixture
def engine(migrated: str) -> Any:
    eng = make_engine(migrated)
    with Session(eng) as s:
        s.add(Repository(id=1, full_name=OLD[0], owner="octo-org", installation_id=7))
        s.add(Repository(id=2, full_name=NEW[0], owner="Codertocat", installation_id=7))
        s.commit()
    yield eng
    eng.dispose()


def _event(name: str) -> Event:
    payload = json.loads((WEBHOOK_EXAMPLES / "issues" / f"{name}.payload.json").read_text())
    return Event("issues", payload["action"], f"g-{name}", payload)


def _ctx(engine: Any) -> Context:
    return Context(settings=None, engine=engine, clock=FrozenClock(NOW), github=None, executor=None)  # type: ignore[arg-type]


def _seed_old_item(engine: Any) -> datetime:
    """The old issue as Veilleur knew it: an outside author's, reminded once already."""
    created = timeline.ts(_event("transferred").payload["issue"]["created_at"])
    assert created is not None
    with Session(engine) as s:
        s.add(
            Item(
                repo_full_name=OLD[0], owner="octo-org", number=OLD[1], kind="issue",
                title="Spelling error", author_login="Codertocat", author_class="external",
                created_at=created,
            )
        )  # fmt: skip
        s.add(
            TimelineEntry(
                repo_full_name=OLD[0], number=OLD[1], occurred_at=created, kind="opened",
                actor_login="Codertocat", source_key="opened", detail={"live": True},
            )
        )  # fmt: skip
        s.add(
            TimelineEntry(
                repo_full_name=OLD[0], number=OLD[1], occurred_at=created, kind="labeled",
                actor_login="veilleur[bot]", actor_class="bot", source_key="labeled:bug",
                detail={"label": "bug"},
            )
        )  # fmt: skip
        s.add(ActionLog(key=f"sla:{OLD[0]}#{OLD[1]}:first_response:reminder:1", done_at=NOW))
        s.commit()
    return created


def _state(engine: Any, ref: tuple[str, int]) -> Any:
    with Session(engine) as s:
        item = s.exec(
            select(Item).where(Item.repo_full_name == ref[0], Item.number == ref[1])
        ).one()
        entries = list(
            s.exec(
                select(TimelineEntry).where(
                    TimelineEntry.repo_full_name == ref[0], TimelineEntry.number == ref[1]
                )
            )
        )
        return item, entries, waiting_state(item, entries, NOW, BusinessCalendar())


@pytest.mark.parametrize(
    "order", [("transferred", "opened.with-transfer"), ("opened.with-transfer", "transferred")]
)
async def test_a_transferred_issue_is_followed(engine: Any, order: tuple[str, str]) -> None:
    created = _seed_old_item(engine)
    for name in order:
        await records.handle(_event(name), _ctx(engine))
        await records.handle(_event(name), _ctx(engine))  # redelivered: nothing more
    _, _, old = _state(engine, OLD)
    assert old.gone and old.waiting_on is None
    item, entries, new = _state(engine, NEW)
    opened_there = timeline.ts(_event("opened.with-transfer").payload["issue"]["created_at"])
    assert opened_there is not None
    start = min(created, opened_there)  # the wait counts from the first opening
    assert item.created_at == start and item.author_class == "external"
    assert new.waiting_on == "maintainer" and new.since == start and new.overdue
    assert sorted(e.kind for e in entries).count("labeled") == 1  # carried once
    with Session(engine) as s:  # the reminder already sent is not sent again
        assert s.get(ActionLog, f"sla:{NEW[0]}#{NEW[1]}:first_response:reminder:1") is not None


async def test_a_transfer_to_a_repository_veilleur_does_not_watch_is_not_followed(
    engine: Any,
) -> None:
    _seed_old_item(engine)
    with Session(engine) as s:
        s.delete(s.get(Repository, 2))
        s.commit()
    await records.handle(_event("transferred"), _ctx(engine))
    assert _state(engine, OLD)[2].gone
    with Session(engine) as s:
        assert s.exec(select(Item).where(Item.repo_full_name == NEW[0])).first() is None
