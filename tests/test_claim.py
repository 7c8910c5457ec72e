"""The worker's claim: per-item order kept, and a cost that does not grow with the backlog."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from bot.queue import deliveries
from bot.storage.db import make_engine
from bot.storage.models import Delivery, DeliveryStatus

T0 = datetime(2026, 7, 10, 14, 0, tzinfo=UTC)
S = DeliveryStatus


@pytest.fixture
def engine(migrated: str) -> Iterator[Engine]:
    eng = make_engine(migrated)
    yield eng
    eng.dispose()


def fill(engine: Engine, items: list[tuple[str | None, int | None]], start: int = 0) -> list[str]:
    """One received delivery per entry, in this order of receipt."""
    rows: list[dict[str, Any]] = [
        {
            "guid": f"g{start + i:08d}",
            "seq": 1_000_000 + start + i,
            "event": "issues",
            "action": "edited",
            "repo_full_name": repo,
            "item_number": number,
            "received_at": T0,
            "payload": b"{}",
            "status": S.RECEIVED,
            "attempts": 0,
        }
        for i, (repo, number) in enumerate(items)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Delivery.__table__), rows)  # type: ignore[attr-defined]
    return [str(r["guid"]) for r in rows]


def set_status(engine: Engine, guid: str, status: str, next_at: datetime | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Delivery.__table__)  # type: ignore[attr-defined]
            .where(Delivery.__table__.c.guid == guid)  # type: ignore[attr-defined]
            .values(status=status, next_attempt_at=next_at)
        )


def claim_guid(engine: Engine, now: datetime = T0) -> str | None:
    d = deliveries.claim_next(engine, now)
    return None if d is None else d.guid


def test_a_blocked_item_waits_and_the_others_go_on(engine: Engine) -> None:
    a1, b1, a2, push, b2 = fill(
        engine, [("o/r", 1), ("o/r", 2), ("o/r", 1), ("o/r", None), ("o/r", 2)]
    )
    set_status(engine, a1, S.FAILED, T0 + timedelta(minutes=5))  # waits for its retry
    assert claim_guid(engine) == b1
    # b1 is being processed: b2 waits for it; a2 waits behind a1; a push has no item.
    assert claim_guid(engine) == push
    assert claim_guid(engine) is None
    deliveries.finish(engine, b1, T0)
    assert claim_guid(engine) == b2
    assert claim_guid(engine, T0 + timedelta(minutes=6)) == a1
    deliveries.finish(engine, a1, T0)
    assert claim_guid(engine) == a2


def test_the_walk_goes_past_a_long_blocked_item(engine: Engine) -> None:
    """More than one batch of a blocked item before the first ready delivery."""
    n = deliveries.CLAIM_BATCH * 2 + 7
    guids = fill(engine, [("o/r", 1)] * n + [("o/r", 2)])
    set_status(engine, guids[0], S.PROCESSING)
    assert claim_guid(engine) == guids[-1]
    assert claim_guid(engine) is None


def _claim_steps(path: str, now: datetime) -> int:
    """SQLite virtual-machine steps (in thousands) that one claim takes."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    engine = make_engine(f"sqlite:///{path}")

    def on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.set_progress_handler(count, 1000)

    from sqlalchemy import event

    event.listen(engine, "connect", on_connect)
    assert deliveries.claim_next(engine, now) is not None
    engine.dispose()
    return steps


@pytest.mark.parametrize("layout", ["one item", "distinct items"])
def test_claim_steps_do_not_grow_with_the_backlog(sqlite_url: str, layout: str) -> None:
    """Counted in SQLite's VM steps, not timed: 10 times the backlog, about the same work."""
    from bot.storage.migrate import upgrade

    steps = []
    for size in (500, 5_000):
        url = sqlite_url.replace(".db", f"-{size}.db")
        upgrade(url)
        engine = make_engine(url)
        items = [("o/r", 1 if layout == "one item" else i) for i in range(size)]
        fill(engine, items)
        with engine.begin() as conn:  # a long history already processed
            conn.execute(
                insert(Delivery.__table__),  # type: ignore[attr-defined]
                [
                    {"guid": f"d{i:08d}", "seq": i, "event": "issues", "repo_full_name": "o/r",
                     "item_number": 1, "received_at": T0, "payload": b"{}", "status": S.DONE,
                     "attempts": 1}
                    for i in range(size)
                ],
            )  # fmt: skip
        engine.dispose()
        steps.append(_claim_steps(url.removeprefix("sqlite:///"), T0))
    small, large = steps
    assert large <= small * 1.5 + 2, steps
