"""Disk (issue #13): after the payload retention's purge, the SQLite file itself shrinks.

Deliveries are stored through the writer process's real write path (`SqliteGroupWriter`) with
GitHub's real webhook examples (../shared), marked processed as the worker leaves them, then
purged past the retention period by the real `purge` (what the daily job runs).
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot import periodic as jobs
from bot.clock import FrozenClock
from bot.intake.rows import DeliveryRow
from bot.intake.sqlite_writer import SqliteGroupWriter, sqlite_timestamp
from bot.privacy.retention import purge
from bot.storage import reclaim, sqlite_pragmas
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from tests.conftest import WEBHOOK_EXAMPLES, make_settings, need

T0 = datetime(2026, 9, 1, 9, tzinfo=UTC)
ROWS = 1500


@pytest.fixture
def bodies() -> list[bytes]:
    found = [p.read_bytes() for p in sorted(need(WEBHOOK_EXAMPLES).glob("*/*.json"))]
    assert found
    return found


def fill(path: str, bodies: list[bytes], n: int = ROWS) -> None:
    writer = SqliteGroupWriter(path)
    for start in range(0, n, 32):
        writer.write(
            [
                DeliveryRow(str(uuid.uuid4()), "issues", "opened", 1, "o/r", i % 300, T0,
                            bodies[i % len(bodies)])
                for i in range(start, min(start + 32, n))
            ]
        )  # fmt: skip
    done = sqlite_timestamp(T0 + timedelta(seconds=5))  # what claim and finish leave behind
    conn = writer.conn
    conn.execute("UPDATE deliveries SET status = 'done', attempts = 1, processed_at = ?", (done,))
    for handler in ("records", "triage"):  # what the dispatcher records per finished handler
        conn.execute(
            "INSERT OR IGNORE INTO handler_runs SELECT guid, ?, ? FROM deliveries", (handler, done)
        )
    writer.close()


def pragma(path: str, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


def count(path: str, table: str, where: str = "1") -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])  # noqa: S608
    finally:
        conn.close()


def purge_after_retention(url: str) -> int:
    engine = make_engine(url)
    try:
        report = purge(engine, T0 + timedelta(days=31), payload_days=30, person_days=3650)
    finally:
        engine.dispose()
    assert report.payloads == ROWS
    return report.disk_freed


@pytest.fixture
def without_auto_vacuum(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A database created before `auto_vacuum=INCREMENTAL` was set."""
    monkeypatch.setattr(sqlite_pragmas, "NEW_FILE_PRAGMA", "PRAGMA auto_vacuum=NONE")
    yield


def test_a_new_database_vacuums_incrementally(tmp_path: Path) -> None:
    path = str(tmp_path / "new.db")
    upgrade(f"sqlite:///{path}")
    assert pragma(path, "auto_vacuum") == reclaim.INCREMENTAL


def test_the_purge_gives_the_space_back(tmp_path: Path, bodies: list[bytes]) -> None:
    path = str(tmp_path / "v.db")
    upgrade(f"sqlite:///{path}")
    fill(path, bodies)
    before = reclaim.on_disk(path)
    assert before > ROWS * 3000  # each payload takes at least a page of its own
    freed = purge_after_retention(f"sqlite:///{path}")
    after = reclaim.on_disk(path)
    assert after < before * 0.15, (before, after)
    assert freed >= before - after  # also the log the purge itself wrote
    assert pragma(path, "freelist_count") == 0
    assert count(path, "handler_runs") == 0
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_an_older_database_is_converted_once(
    tmp_path: Path, bodies: list[bytes], without_auto_vacuum: None
) -> None:
    path = str(tmp_path / "old.db")
    upgrade(f"sqlite:///{path}")
    fill(path, bodies)
    assert pragma(path, "auto_vacuum") == reclaim.NONE
    before = reclaim.on_disk(path)
    purge_after_retention(f"sqlite:///{path}")
    assert reclaim.on_disk(path) < before * 0.15
    assert pragma(path, "auto_vacuum") == reclaim.INCREMENTAL  # from now on, incremental


def test_little_free_space_leaves_an_older_database_alone(
    tmp_path: Path, bodies: list[bytes], without_auto_vacuum: None
) -> None:
    path = str(tmp_path / "old.db")
    upgrade(f"sqlite:///{path}")
    fill(path, bodies)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM deliveries WHERE rowid IN (SELECT rowid FROM deliveries LIMIT 75)")
    conn.commit()
    conn.close()
    assert pragma(path, "freelist_count") > 50
    done = reclaim.reclaim_file(path)
    assert done.how == "none"  # a few free pages: no full rewrite of the file
    assert pragma(path, "auto_vacuum") == reclaim.NONE


def test_a_dead_delivery_keeps_its_finished_handlers(tmp_path: Path, bodies: list[bytes]) -> None:
    path = str(tmp_path / "v.db")
    upgrade(f"sqlite:///{path}")
    fill(path, bodies)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE deliveries SET status = 'dead' WHERE item_number = 7")
    conn.commit()
    conn.close()
    dead = count(path, "deliveries", "status = 'dead'")
    assert dead
    purge_after_retention(f"sqlite:///{path}")
    assert count(path, "handler_runs") == 2 * dead  # a redelivery retries only the failed one
    assert count(path, "deliveries", "payload = X'7B7D'") == ROWS


def test_the_daily_job_shrinks_the_file(tmp_path: Path, bodies: list[bytes]) -> None:
    path = str(tmp_path / "job.db")
    url = f"sqlite:///{path}"
    upgrade(url)
    fill(path, bodies)
    before = reclaim.on_disk(path)
    settings = make_settings(url)
    engine = make_engine(url)
    clock = FrozenClock(T0 + timedelta(days=settings.payload_retention_days + 1))
    try:
        asyncio.run(jobs.privacy_purge(SimpleNamespace(settings=settings, engine=engine), clock))
    finally:
        engine.dispose()
    assert reclaim.on_disk(path) < before * 0.15
