"""`POST /webhooks/github`: verify, store durably, answer 202. No GitHub call happens here.

Durability without a per-request fsync: requests hand their row to one writer thread that
commits whole groups at once (grouped commit); each request is answered only after the
commit that holds its row. Work is keyed by `X-GitHub-Delivery`.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from bot import metrics
from bot.storage.models import Delivery, DeliveryStatus

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 25 * 1024 * 1024
MAX_GROUP = 512  # rows per commit; 512 x 11 parameters stays under SQLite's and PostgreSQL's limits
_COLUMNS = (
    "guid", "seq", "event", "action", "installation_id", "repo_full_name", "item_number",
    "received_at", "payload", "status", "attempts",
)  # fmt: skip


def signature_ok(body: bytes, header: str | None, secrets: list[bytes]) -> bool:
    """HMAC-SHA256 over the raw body, constant-time, against every configured secret."""
    if not header or not header.startswith("sha256=") or not secrets:
        return False
    given = header[len("sha256=") :].strip()
    ok = False
    for secret in secrets:  # no early exit: the time taken does not depend on which matched
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        ok |= hmac.compare_digest(expected, given)
    return ok


class Stored:
    NEW = "new"  # stored now: 202
    REQUEUED = "requeued"  # had failed before, queued again: 202
    PENDING = "pending"  # already stored and not done yet: 202
    DONE = "done"  # already processed: 200


@dataclass
class DeliveryRow:
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repo_full_name: str | None
    item_number: int | None
    received_at: datetime
    payload: bytes


def row_from_payload(
    guid: str, event: str, body: bytes, payload: dict[str, Any], now: datetime
) -> DeliveryRow:
    repo = payload.get("repository")
    inst = payload.get("installation")
    item = payload.get("pull_request") or payload.get("issue")
    number = item.get("number") if isinstance(item, dict) else payload.get("number")
    action = payload.get("action")
    return DeliveryRow(
        guid=guid,
        event=event,
        action=action if isinstance(action, str) else None,
        installation_id=inst.get("id") if isinstance(inst, dict) else None,
        repo_full_name=repo.get("full_name") if isinstance(repo, dict) else None,
        item_number=number if isinstance(number, int) else None,
        received_at=now,
        payload=body,
    )


# Called inside the transaction that stores a group, with the rows stored or requeued by it.
InTransaction = Callable[[Connection, list[DeliveryRow]], None]


class DeliveryWriter:
    """One thread that writes deliveries in grouped commits and resolves each request's future."""

    def __init__(
        self,
        engine: Engine,
        on_stored: Callable[[], None] | None = None,
        in_transaction: InTransaction | None = None,
    ) -> None:
        self.engine = engine
        self.on_stored = on_stored
        self.in_transaction = in_transaction
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._seq_last = 0
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

    def start(self) -> None:
        # Called once the app is loaded: move the startup heap (modules, models, settings, the
        # engine: ~120k objects) out of the collector's sight. Under load, objects of requests
        # in flight reach the oldest generation and trigger a full collection every second or
        # so; over the whole heap each one stopped the event loop for ~90 ms (p99 100+ ms).
        # (Process-wide: it would sit as well in the app's lifespan; stop() undoes it.)
        gc.collect()
        gc.freeze()
        self._thread = threading.Thread(target=self._run, name="delivery-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None
            gc.unfreeze()  # an app created and stopped in a longer process (tests) can be freed

    async def store(self, row: DeliveryRow) -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._queue.put((row, future, loop))
        return await future

    def _next_seq(self) -> int:
        # Microseconds since the epoch, strictly increasing in this process: order of receipt.
        seq = max(time.time_ns() // 1000, self._seq_last + 1)
        self._seq_last = seq
        return seq

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
            try:
                outcomes: list[Any] = self._write([row for row, _, _ in group])
            except Exception as exc:  # database down: every request of the group gets a 503
                log.error("storing %d deliveries failed: %s", len(group), exc)
                outcomes = [exc] * len(group)
            # One wake-up per event loop for the whole group, not one per request.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[str], Any]]] = {}
            for (_, fut, loop), outcome in zip(group, outcomes, strict=True):
                by_loop.setdefault(loop, []).append((fut, outcome))
            for loop, pairs in by_loop.items():
                loop.call_soon_threadsafe(_resolve, pairs)
            if self.on_stored and any(o in (Stored.NEW, Stored.REQUEUED) for o in outcomes):
                self.on_stored()

    def _write(self, rows: list[DeliveryRow]) -> list[str]:
        seqs = [self._next_seq() for _ in rows]  # order of receipt, also for a requeued row
        # Rows are written in GUID order: replicas sharing a database then lock GUIDs in one
        # order (a duplicate raced to two replicas deadlocked them); `seq` keeps the receipt.
        order = sorted(range(len(rows)), key=lambda i: rows[i].guid)
        by_guid = [rows[i] for i in order]
        seqs = [seqs[i] for i in order]

        def in_receipt_order(written: list[str]) -> list[str]:
            outcomes = [""] * len(rows)
            for i, outcome in zip(order, written, strict=True):
                outcomes[i] = outcome
            return outcomes

        try:
            with self.engine.begin() as conn:
                outcomes = in_receipt_order(self._write_all_new(conn, by_guid, seqs))
                self._also(conn, rows, outcomes)
                return outcomes
        except _AlreadyKnown:  # rolled back: redo this group row by row
            with self.engine.begin() as conn:
                written = [
                    self._write_one(conn, row, seq) for row, seq in zip(by_guid, seqs, strict=True)
                ]
                outcomes = in_receipt_order(written)
                self._also(conn, rows, outcomes)
                return outcomes

    def _also(self, conn: Connection, rows: list[DeliveryRow], outcomes: list[str]) -> None:
        """Scale-out: enqueue a job per stored row, in the same transaction as the rows."""
        if self.in_transaction is None:
            return
        fresh = (Stored.NEW, Stored.REQUEUED)
        queued = [r for r, o in zip(rows, outcomes, strict=True) if o in fresh]
        if queued:
            self.in_transaction(conn, queued)

    def _write_all_new(
        self, conn: Connection, rows: list[DeliveryRow], seqs: list[int]
    ) -> list[str]:
        """The usual case: every GUID of the group is new, and one INSERT stores them all.
        Raises _AlreadyKnown if any GUID was stored before."""
        outcomes: list[str] = []
        values: list[list[Any]] = []
        seen: set[str] = set()
        for row, seq in zip(rows, seqs, strict=True):
            if row.guid in seen:  # twice in one group: the second copy finds it pending
                outcomes.append(Stored.PENDING)
                continue
            seen.add(row.guid)
            outcomes.append(Stored.NEW)
            one = [
                row.guid, seq, row.event, row.action, row.installation_id, row.repo_full_name,
                row.item_number, row.received_at, row.payload, DeliveryStatus.RECEIVED, 0,
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

    def _write_one(self, conn: Connection, row: DeliveryRow, seq: int) -> str:
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
            "payload": row.payload,
            "status": DeliveryStatus.RECEIVED,
            "attempts": 0,
        }
        if conn.execute(self._insert_one, values).first() is not None:
            return Stored.NEW
        status = conn.execute(select(table.c.status).where(table.c.guid == row.guid)).scalar_one()
        if status in (DeliveryStatus.FAILED, DeliveryStatus.DEAD):
            # GitHub redelivers with the same GUID: process it again.
            conn.execute(
                update(table)
                .where(table.c.guid == row.guid)
                .values(status=DeliveryStatus.RECEIVED, next_attempt_at=None, attempts=0, seq=seq)
            )
            return Stored.REQUEUED
        if status in (DeliveryStatus.DONE, DeliveryStatus.IGNORED):
            return Stored.DONE
        return Stored.PENDING


class _AlreadyKnown(Exception):
    """A GUID of the group was stored before: the group is rolled back and redone row by row."""


def _resolve(pairs: list[tuple[asyncio.Future[str], Any]]) -> None:
    for fut, outcome in pairs:
        if fut.done():
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)


def _plain(status: int, text: str) -> Response:
    return Response(content=text + "\n", status_code=status, media_type="text/plain")


def build_router() -> APIRouter:
    router = APIRouter()

    async def receive(request: Request) -> Response:
        state = request.app.state
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _plain(413, "payload too large")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _plain(413, "payload too large")
        if not signature_ok(body, request.headers.get("x-hub-signature-256"), state.secrets):
            metrics.WEBHOOKS_REJECTED.labels(reason="signature").inc()
            return _plain(401, "invalid or missing X-Hub-Signature-256")
        event = request.headers.get("x-github-event")
        guid = request.headers.get("x-github-delivery")
        if not event or not guid or len(guid) > 64:
            return _plain(400, "missing X-GitHub-Event or X-GitHub-Delivery")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _plain(400, "body is not JSON")
        if not isinstance(payload, dict):
            return _plain(400, "body is not a JSON object")
        if event == "ping":
            return _plain(200, "pong")
        row = row_from_payload(guid, event, body, payload, state.clock.now().astimezone(UTC))
        # Free the parsed tree now: held across the wait for the commit, the objects of every
        # request in flight would survive collections and be promoted to older generations.
        del payload
        try:
            outcome = await state.writer.store(row)
        except Exception:
            # GitHub records a failed delivery; the recovery job asks for it again later.
            metrics.WEBHOOKS_REJECTED.labels(reason="storage").inc()
            return _plain(503, "storage unavailable")
        metrics.DELIVERIES_RECEIVED.labels(event=event, outcome=outcome).inc()
        if outcome == Stored.DONE:
            return _plain(200, "already processed")
        return _plain(202, "accepted")

    # A plain Starlette route: no dependency solving or parameter validation to run per request.
    router.add_route("/webhooks/github", receive, methods=["POST"], include_in_schema=False)
    return router
