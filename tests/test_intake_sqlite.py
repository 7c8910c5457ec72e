"""The writer process's plain-sqlite3 writer stores what `GroupWriter` stores, and the writer
process imports only the standard library, sqlite3 and lz4 (no SQLAlchemy, SQLModel, pydantic)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from bot.intake.rows import DeliveryRow, Stored
from bot.intake.sqlite_writer import SqliteGroupWriter
from bot.intake.writer import DeliveryWriter, GroupWriter
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from bot.storage.models import Delivery

T0 = datetime(2026, 7, 10, 14, 0, 0, 123456, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def row(guid: str, number: int | None = 7, at: datetime = T0) -> DeliveryRow:
    return DeliveryRow(
        guid, "issues", "opened", 42, "o/r", number, at, b'{"n": "%s"}' % guid.encode()
    )


def _scenario(write: object, url: str) -> tuple[list[list[str]], list[tuple[object, ...]]]:
    """New rows, a duplicate inside a group, a redelivery of a failed and of a done one."""
    engine = make_engine(url)
    outcomes = [write([row("b"), row("a", None), row("b")])]  # type: ignore[operator]
    with engine.begin() as conn:
        table = Delivery.__table__  # type: ignore[attr-defined]
        conn.execute(update(table).where(table.c.guid == "a").values(status="failed", attempts=2))
        conn.execute(update(table).where(table.c.guid == "b").values(status="done"))
    later = T0 + timedelta(hours=2)
    outcomes.append(write([row("c", at=later), row("a", None), row("b")]))  # type: ignore[operator]
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT guid, event, action, installation_id, repo_full_name, item_number,"
                " received_at, payload, status, attempts, next_attempt_at FROM deliveries"
                " ORDER BY guid"
            )
        ).all()
        seqs = conn.execute(text("SELECT guid FROM deliveries ORDER BY seq")).scalars().all()
    engine.dispose()
    return outcomes, [tuple(r) for r in rows] + [tuple(seqs)]


def test_same_rows_and_outcomes_as_the_sqlalchemy_writer(tmp_path: Path) -> None:
    results = []
    for name in ("orm", "plain"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        if name == "orm":
            writer: GroupWriter | SqliteGroupWriter = GroupWriter.for_url(url)
        else:
            writer = SqliteGroupWriter(str(tmp_path / f"{name}.db"))
        results.append(_scenario(writer.write, url))
        writer.close()
    (orm_outcomes, orm_rows), (plain_outcomes, plain_rows) = results
    assert plain_outcomes == [
        [Stored.NEW, Stored.NEW, Stored.PENDING],
        [Stored.NEW, Stored.REQUEUED, Stored.DONE],
    ]
    assert plain_outcomes == orm_outcomes
    assert plain_rows == orm_rows
    engine = make_engine(f"sqlite:///{tmp_path / 'plain'}.db")
    with engine.connect() as conn:  # read back through the model: aware UTC, same instant
        stored = conn.execute(text("SELECT received_at FROM deliveries WHERE guid = 'c'")).scalar()
    engine.dispose()
    assert stored == "2026-07-10 16:00:00.123456"


# What the writer process may load besides the standard library: lz4, and these of ours.
WRITER_MODULES = {
    "bot", "bot.intake", "bot.intake.rows", "bot.intake.wire", "bot.intake.writer_main",
    "bot.intake.sqlite_writer", "bot.storage", "bot.storage.payloads",
    "bot.storage.sqlite_pragmas", "bot.storage.log_bound", "bot.logs",
}  # fmt: skip


def test_the_writer_process_imports_only_the_standard_library_sqlite3_and_lz4(
    tmp_path: Path,
) -> None:
    """The writer's whole run (start, ready, one request, end), in a fresh interpreter."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    code = f"""
import json, os, socket, sys, threading
before = set(sys.modules)
os.environ["VEILLEUR_INTAKE_WRITER_DATABASE_URL"] = {url!r}
ours, theirs = socket.socketpair()
def web():
    from bot.intake import wire
    from bot.intake.rows import DeliveryRow
    from datetime import datetime, UTC
    assert ours.recv(1) == wire.READY
    row = DeliveryRow("g1", "issues", "opened", 1, "o/r", 1, datetime.now(UTC), b"{{}}")
    ours.sendall(b"".join(wire.encode_request(1, row)))
    buf = bytearray()
    while not (answers := wire.decode_answers(buf)):
        buf += ours.recv(1000)
    assert answers == [(1, "new", None)], answers
    ours.close()
threading.Thread(target=web).start()
from bot.intake import writer_main
writer_main.main([str(theirs.fileno())])
print(json.dumps(sorted(set(sys.modules) - before)))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(out.stdout))
    outside = {m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names}
    assert {m for m in outside if m.split(".")[0] != "lz4"} == WRITER_MODULES, out.stderr
    assert not {"sqlalchemy", "sqlmodel", "pydantic", "alembic", "orjson"} & loaded


def test_the_writer_starts_an_oversized_log_over_once_readers_move_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from bot.storage import log_bound, sqlite_pragmas

    monkeypatch.setattr(sqlite_pragmas, "WAL_SIZE_LIMIT_BYTES", 256 * 1024)
    monkeypatch.setattr(log_bound, "WAL_CHECK_EVERY", 1)
    path = tmp_path / "w.db"
    upgrade(f"sqlite:///{path}")
    writer = SqliteGroupWriter(str(path))
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM deliveries").fetchone()  # an old snapshot, held
    big = bytes(range(256)) * 64  # 16 kB that lz4 cannot shrink much
    for g in range(40):
        writer.write([DeliveryRow(f"g{g}-{i}", "issues", None, 1, "o/r", 1, T0, big)
                      for i in range(8)])  # fmt: skip
    assert writer.log_bound is not None
    assert writer.log_bound.restarts == 0  # the reader pins the log: nothing to do but wait
    grown = (tmp_path / "w.db-wal").stat().st_size
    assert grown > 256 * 1024
    reader.execute("COMMIT")
    writer.write([row("after")])
    assert writer.log_bound.restarts == 1
    writer.write([row("next")])  # the log starts over from its beginning
    _, frames, _ = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert 0 < frames * 4096 < grown / 10  # (journal_size_limit cuts the file past 64 MiB)
    writer.close()


def test_after_looking_at_the_log_a_locked_database_still_fails_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log's bound sets a short wait for its checkpoint; the write wait after it is the
    writer's own again (then 503), not SQLite's 30 s."""
    import sqlite3
    import time

    from bot.storage import log_bound, sqlite_pragmas

    monkeypatch.setattr(sqlite_pragmas, "WAL_SIZE_LIMIT_BYTES", 1)
    monkeypatch.setattr(sqlite_pragmas, "WRITE_WAIT_SECONDS", 0.5)
    monkeypatch.setattr(log_bound, "WAL_CHECK_EVERY", 1)
    path = tmp_path / "w.db"
    upgrade(f"sqlite:///{path}")
    writer = SqliteGroupWriter(str(path))
    writer.write([row("first")])  # the log is past its bound: the checkpoint is asked for
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the file
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        writer.write([row("second")])
    assert time.monotonic() - started < 3
    other.execute("ROLLBACK")
    assert writer.write([row("third")]) == [Stored.NEW]
    writer.close()


@pytest.mark.parametrize("kind", ["process", "thread"])
def test_readers_that_never_all_pause_still_let_the_writer_start_the_log_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Two readers whose transactions overlap (each 0.3 s, staggered): a short wait never finds
    them both gone, so past URGENT_FACTOR times the limit the writer waits for the ones that
    started before its checkpoint, and the log starts over instead of growing without end.
    Both writers a SQLite file can have: the writer process's and the web process's thread's
    (`VEILLEUR_INTAKE_WRITER=thread`)."""
    import sqlite3
    import threading

    from bot.storage import log_bound, sqlite_pragmas

    limit = 256 * 1024  # the log's bound, and the size a log that starts over is cut back to
    monkeypatch.setattr(sqlite_pragmas, "WAL_SIZE_LIMIT_BYTES", limit)
    pragmas = [p for p in sqlite_pragmas.PRAGMAS if "journal_size_limit" not in p]
    pragmas.append(f"PRAGMA journal_size_limit={limit}")
    monkeypatch.setattr(sqlite_pragmas, "PRAGMAS", tuple(pragmas))
    monkeypatch.setattr(log_bound, "WAL_CHECK_EVERY", 1)
    path = tmp_path / "w.db"
    upgrade(f"sqlite:///{path}")
    writer = (
        SqliteGroupWriter(str(path))
        if kind == "process"
        else DeliveryWriter(make_engine(f"sqlite:///{path}")).group  # the thread's writer
    )
    assert writer.log_bound is not None
    stop = threading.Event()

    def read(delay: float) -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        stop.wait(delay)
        while not stop.is_set():
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM deliveries").fetchone()
            stop.wait(0.3)
            conn.execute("COMMIT")
        conn.close()

    readers = [threading.Thread(target=read, args=(d,)) for d in (0.0, 0.15)]
    for t in readers:
        t.start()
    big = bytes(range(256)) * 64  # 16 kB that lz4 cannot shrink much
    wal, largest = tmp_path / "w.db-wal", 0
    try:
        stop.wait(0.3)  # both readers in
        for g in range(120):  # ~15 MB written: 60 times the limit
            writer.write([DeliveryRow(f"g{g}-{i}", "issues", None, 1, "o/r", 1, T0, big)
                          for i in range(8)])  # fmt: skip
            largest = max(largest, wal.stat().st_size)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert writer.log_bound.restarts >= 2  # each time the log passed the urgent size
    # bounded: past the urgent size by at most what is written between two looks (one group)
    assert largest < log_bound.URGENT_FACTOR * limit + 2 * 8 * len(big)
    writer.close()
