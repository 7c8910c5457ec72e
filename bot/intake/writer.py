"""Storing deliveries in grouped commits: the writing half of the intake.

`GroupWriter` commits a group of rows in one transaction and tells each row's outcome (new,
requeued, pending, done). It runs in the web process's writer thread (`DeliveryWriter`) or in a
writer process of its own (`bot.intake.writer_process`). Each request is answered only after the
commit that holds its row: a 202 survives a crash.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from bot.intake.rows import MAX_GROUP, DeliveryRow, Stored
from bot.storage import payloads
from bot.storage.db import WRITE_WAIT_SECONDS, make_engine, sqlite_file
from bot.storage.log_bound import LogBound
from bot.storage.models import Delivery, DeliveryStatus

log = logging.getLogger(__name__)

_COLUMNS = (
    "guid", "seq", "event", "action", "installation_id", "repo_full_name", "item_number",
    "received_at", "payload", "status", "attempts",
)  # fmt: skip


# Called inside the transaction that stores a group, with the rows stored or requeued by it.
InTransaction = Callable[[Connection, list[DeliveryRow]], None]


class GroupWriter:
    """Writes groups of rows, each in one transaction. Not thread-safe: one caller at a time."""

    def __init__(
        self,
        engine: Engine,
        in_transaction: InTransaction | None = None,
        *,
        bound_log: bool = False,
    ) -> None:
        """`bound_log`: a writer that lives as long as intake keeps a SQLite file's log bounded
        (bot/storage/log_bound.py); a one-off writer (`Runtime.receive`) need not look."""
        self.engine = engine
        self.in_transaction = in_transaction
        self._owns_engine = False
        self._seq_last = 0
        path = sqlite_file(engine.url.render_as_string(hide_password=False)) if bound_log else None
        self.log_bound = LogBound(path) if path else None
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        table = Delivery.__table__  # type: ignore[attr-defined]
        # RETURNING, not rowcount: SQLAlchemy 2.1 gives rowcount -1 for INSERT on psycopg.
        self._insert_one = (
            insert(table).on_conflict_do_nothing(index_elements=["guid"]).returning(table.c.guid)
        )
        # The fast path's statement, in the driver's own SQL (no statement building per group).
        # SQLite: one multi-row VALUES list, run in a single step with the GIL released.
        # PostgreSQL: the one-row statement through executemany, which psycopg prepares once
        # and pipelines (one round trip for the group).
        dialect = engine.dialect
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._bulk_many = dialect.name == "postgresql"
        self._bulk_head = f"INSERT INTO {table.name} ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608
        self._bulk_row = "(" + ", ".join([mark] * len(_COLUMNS)) + ")"
        self._bulk_tail = " ON CONFLICT (guid) DO NOTHING"
        self._bulk_procs = [
            (i, proc)
            for i, name in enumerate(_COLUMNS)
            if (proc := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        ]

    @classmethod
    def for_url(cls, url: str) -> GroupWriter:
        """A writer with a small pool of its own (the writer process)."""
        engine = make_engine(url, pool_size=2, busy_timeout_seconds=WRITE_WAIT_SECONDS)
        writer = cls(engine, bound_log=True)
        writer._owns_engine = True
        return writer

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def write(self, rows: list[DeliveryRow]) -> list[str]:
        """Store a group in one transaction; the outcome of each row, in the rows' order."""
        seqs = [self._next_seq() for _ in rows]  # order of receipt, also for a requeued row
        # Rows are written in GUID order: replicas sharing a database then lock GUIDs in one
        # order (a duplicate raced to two replicas deadlocked them); `seq` keeps the receipt.
        order = sorted(range(len(rows)), key=lambda i: rows[i].guid)
        by_guid = [rows[i] for i in order]
        seqs = [seqs[i] for i in order]
        blobs = [payloads.pack(row.payload) for row in by_guid]

        def in_receipt_order(written: list[str]) -> list[str]:
            outcomes = [""] * len(rows)
            for i, outcome in zip(order, written, strict=True):
                outcomes[i] = outcome
            return outcomes

        try:
            with self.engine.begin() as conn:
                outcomes = in_receipt_order(self._write_all_new(conn, by_guid, seqs, blobs))
                self._also(conn, rows, outcomes)
        except _AlreadyKnown:  # rolled back: redo this group row by row
            with self.engine.begin() as conn:
                written = [
                    self._write_one(conn, row, seq, blob)
                    for row, seq, blob in zip(by_guid, seqs, blobs, strict=True)
                ]
                outcomes = in_receipt_order(written)
                self._also(conn, rows, outcomes)
        if self.log_bound is not None and self.log_bound.due():
            with self.engine.connect() as conn:
                self.log_bound.look(cast(sqlite3.Connection, conn.connection.dbapi_connection))
        return outcomes

    def write_or_fail(self, rows: list[DeliveryRow]) -> list[str | Exception]:
        """`write`, or, when the group cannot be stored (database down), the same exception
        for each row: every request of the group is then answered 503."""
        try:
            return list(self.write(rows))
        except Exception as exc:
            log.error("storing %d deliveries failed: %s", len(rows), exc)
            return [exc] * len(rows)

    def _next_seq(self) -> int:
        # Microseconds since the epoch, strictly increasing in this process: order of receipt.
        seq = max(time.time_ns() // 1000, self._seq_last + 1)
        self._seq_last = seq
        return seq

    def _also(self, conn: Connection, rows: list[DeliveryRow], outcomes: list[str]) -> None:
        """Scale-out: enqueue a job per stored row, in the same transaction as the rows."""
        if self.in_transaction is None:
            return
        queued = [r for r, o in zip(rows, outcomes, strict=True) if o in Stored.FRESH]
        if queued:
            self.in_transaction(conn, queued)

    def _write_all_new(
        self, conn: Connection, rows: list[DeliveryRow], seqs: list[int], blobs: list[bytes]
    ) -> list[str]:
        """The usual case: every GUID of the group is new, and one INSERT stores them all.
        Raises _AlreadyKnown if any GUID was stored before."""
        outcomes: list[str] = []
        values: list[list[Any]] = []
        seen: set[str] = set()
        for row, seq, blob in zip(rows, seqs, blobs, strict=True):
            if row.guid in seen:  # twice in one group: the second copy finds it pending
                outcomes.append(Stored.PENDING)
                continue
            seen.add(row.guid)
            outcomes.append(Stored.NEW)
            one = [
                row.guid, seq, row.event, row.action, row.installation_id, row.repo_full_name,
                row.item_number, row.received_at, blob, DeliveryStatus.RECEIVED, 0,
            ]  # fmt: skip
            for i, proc in self._bulk_procs:
                one[i] = proc(one[i])
            values.append(one)
        conn = conn.execution_options(preserve_rowcount=True)
        if self._bulk_many:
            sql = self._bulk_head + self._bulk_row + self._bulk_tail
            stored = conn.exec_driver_sql(sql, [tuple(one) for one in values])
        else:
            sql = self._bulk_head + ", ".join([self._bulk_row] * len(seen)) + self._bulk_tail
            stored = conn.exec_driver_sql(sql, tuple(v for one in values for v in one))
        if stored.rowcount != len(seen):
            raise _AlreadyKnown
        return outcomes

    def _write_one(self, conn: Connection, row: DeliveryRow, seq: int, blob: bytes) -> str:
        table = Delivery.__table__  # type: ignore[attr-defined]
        values = {
            "guid": row.guid,
            "seq": seq,
            "event": row.event,
            "action": row.action,
            "installation_id": row.installation_id,
            "repo_full_name": row.repo_full_name,
            "item_number": row.item_number,
            "received_at": row.received_at,
            "payload": blob,
            "status": DeliveryStatus.RECEIVED,
            "attempts": 0,
        }
        if conn.execute(self._insert_one, values).first() is not None:
            return Stored.NEW
        status = conn.execute(select(table.c.status).where(table.c.guid == row.guid)).scalar_one()
        if status in (DeliveryStatus.FAILED, DeliveryStatus.DEAD):
            # GitHub redelivers with the same GUID: process it again, with the payload just
            # received (the stored one may have been reduced by the payload retention).
            conn.execute(
                update(table)
                .where(table.c.guid == row.guid)
                .values(
                    status=DeliveryStatus.RECEIVED, next_attempt_at=None, attempts=0, seq=seq,
                    payload=blob,
                )
            )  # fmt: skip
            return Stored.REQUEUED
        if status in (DeliveryStatus.DONE, DeliveryStatus.IGNORED):
            return Stored.DONE
        return Stored.PENDING


class _AlreadyKnown(Exception):
    """A GUID of the group was stored before: the group is rolled back and redone row by row."""


class DeliveryWriter:
    """The writer thread of the web process: takes rows from requests, writes them in groups
    (everything that arrived during the previous commit), resolves each request's future."""

    def __init__(
        self,
        engine: Engine,
        on_stored: Callable[[], None] | None = None,
        in_transaction: InTransaction | None = None,
    ) -> None:
        self.group = GroupWriter(engine, in_transaction, bound_log=True)
        self.on_stored = on_stored
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="delivery-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    async def store(self, row: DeliveryRow) -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._queue.put((row, future, loop))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                group.append(nxt)
            outcomes = self.group.write_or_fail([row for row, _, _ in group])
            # One wake-up per event loop for the whole group, not one per request.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[str], Any]]] = {}
            for (_, fut, loop), outcome in zip(group, outcomes, strict=True):
                by_loop.setdefault(loop, []).append((fut, outcome))
            for loop, pairs in by_loop.items():
                loop.call_soon_threadsafe(resolve, pairs)
            if self.on_stored and any(o in Stored.FRESH for o in outcomes):
                self.on_stored()


def resolve(pairs: list[tuple[asyncio.Future[str], Any]]) -> None:
    """Answer waiting requests: an outcome, or the exception that storing raised."""
    for fut, outcome in pairs:
        if fut.done():
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)
