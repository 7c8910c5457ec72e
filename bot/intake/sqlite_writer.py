"""The writer process's SQLite writer: plain `sqlite3`, no SQLAlchemy, SQLModel or pydantic.

The writer process only appends rows, so it imports only what that takes (about a third of
the memory of the ORM stack: bench/memory.py). It writes exactly what `GroupWriter`
(bot/intake/writer.py) writes: same columns, same encodings, same outcomes; a test compares
the two row for row.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from datetime import UTC, datetime

from bot.intake.rows import DeliveryRow, Stored
from bot.storage import payloads, sqlite_pragmas

log = logging.getLogger(__name__)

_COLUMNS = (
    "guid", "seq", "event", "action", "installation_id", "repo_full_name", "item_number",
    "received_at", "payload", "status", "attempts",
)  # fmt: skip
_ROW = "(" + ", ".join("?" * len(_COLUMNS)) + ")"
_HEAD = f"INSERT INTO deliveries ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608
_TAIL = " ON CONFLICT (guid) DO NOTHING"
_RECEIVED, _FAILED, _DEAD, _DONE, _IGNORED = "received", "failed", "dead", "done", "ignored"


def sqlite_timestamp(value: datetime) -> str:
    """A UTC instant as SQLAlchemy stores a `DateTime` in SQLite (bot/storage/models.py)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


WAL_CHECK_EVERY = 64  # groups between two looks at the log's size (one stat call)
RESTART_WAIT_MS = 50  # the longest a RESTART checkpoint waits for readers to move on
RESTART_RETRY_SECONDS = 0.01  # between two tries of the checkpoint within that wait
# Readers whose transactions overlap (the worker's, the dashboard's) may never all pause within
# RESTART_WAIT_MS, and the log then grows without end (bench/wal.py --hold 0.5: 1.8 GB in 20 s).
# Past this many times its limit, the writer waits longer: for the readers that started before
# the checkpoint, then for those that started while it copied the log back (later ones read the
# database file), so about two reader transactions. Intake waits at most URGENT_WAIT_MS, and
# after a wait that did not start the log over, not again for URGENT_EVERY_SECONDS.
URGENT_FACTOR = 4
URGENT_WAIT_MS = 1500
URGENT_EVERY_SECONDS = 5.0
# Prepared statements kept by the connection. Each group size is a statement of its own (one
# VALUES list of n rows), and one of hundreds of rows holds hundreds of KB: sqlite3's default
# of 128 grew the writer by 40 MB on varied sizes. Re-preparing costs far less than a commit.
CACHED_STATEMENTS = 4
# The writer only appends: it touches the tail of the table and the paths down its indexes,
# and a page missing from this cache is read back from the OS's (SQLite's default: 2 MB).
CACHE_KIB = 512


class SqliteGroupWriter:
    """Writes groups of rows, each in one transaction, like `GroupWriter`, on one connection.

    Keeps the write-ahead log bounded: SQLite's automatic checkpoints copy the log back but
    can only start it over once no reader uses it, so readers that never all pause (worker,
    dashboard, digest) let it grow. Past `WAL_SIZE_LIMIT_BYTES`, the writer asks for a RESTART
    checkpoint that waits at most `RESTART_WAIT_MS` for readers: it either starts the log
    over, which `journal_size_limit` then cuts back, or gives up and tries again later. Past
    `URGENT_FACTOR` times the limit it waits up to `URGENT_WAIT_MS` (a pause of intake well
    within GitHub's 10 s, rather than a log without bound); after such a wait in vain, not
    again for `URGENT_EVERY_SECONDS`."""

    def __init__(self, path: str, *, bound_wal: bool = True) -> None:
        self.wait = sqlite_pragmas.WRITE_WAIT_SECONDS  # then 503: GitHub delivers again
        self.conn = sqlite3.connect(
            path, timeout=self.wait, isolation_level=None, cached_statements=CACHED_STATEMENTS
        )
        sqlite_pragmas.apply(self.conn, self.wait)
        self.conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._seq_last = 0
        self._wal = f"{path}-wal"
        self._groups = 0
        self.bound_wal = bound_wal
        self.restarts = 0  # checkpoints that started the log over (bench/wal.py)
        self.urgent_waits = 0  # the longer waits asked for, past URGENT_FACTOR times the limit
        self._next_urgent = 0.0  # monotonic time before which no longer wait is asked for

    def close(self) -> None:
        self.conn.close()

    def check(self) -> None:
        """Fail now, not on the first request, when the database cannot be read."""
        self.conn.execute("SELECT 1 FROM deliveries LIMIT 1").fetchall()

    def write(self, rows: list[DeliveryRow]) -> list[str]:
        """Store a group in one transaction; the outcome of each row, in the rows' order."""
        seqs = [self._next_seq() for _ in rows]
        order = sorted(range(len(rows)), key=lambda i: rows[i].guid)  # see GroupWriter.write
        values = [self._values(rows[i], seqs[i]) for i in order]
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            written = self._write_all_new(values)
            if written is None:  # a GUID was known: redo the group row by row
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                written = [self._write_one(v) for v in values]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._groups += 1
        if self.bound_wal and self._groups % WAL_CHECK_EVERY == 0:
            self._bound_wal()
        outcomes = [""] * len(rows)
        for i, outcome in zip(order, written, strict=True):
            outcomes[i] = outcome
        return outcomes

    def write_or_fail(self, rows: list[DeliveryRow]) -> list[str | Exception]:
        """`write`, or the exception for every row when the group cannot be stored."""
        try:
            return list(self.write(rows))
        except Exception as exc:
            log.error("storing %d deliveries failed: %s", len(rows), exc)
            return [exc] * len(rows)

    def _bound_wal(self) -> None:
        limit = sqlite_pragmas.WAL_SIZE_LIMIT_BYTES
        try:
            size = os.path.getsize(self._wal)
        except OSError:
            return
        if size <= limit:
            return
        now = time.monotonic()
        urgent = size > URGENT_FACTOR * limit and now >= self._next_urgent
        if urgent:
            self.urgent_waits += 1
            log.info("write-ahead log at %d MB: waiting for its readers", size // 2**20)
        restarted = self._restart_log((URGENT_WAIT_MS if urgent else RESTART_WAIT_MS) / 1000)
        self.restarts += restarted
        if urgent and not restarted:  # a reader holds on: intake does not wait again soon
            self._next_urgent = now + URGENT_EVERY_SECONDS

    def _restart_log(self, wait_seconds: float) -> bool:
        """Ask for a RESTART checkpoint, again every `RESTART_RETRY_SECONDS` until it starts
        the log over or `wait_seconds` have passed. Each try gives up at once when a reader is
        in the way: SQLite's own busy wait retries one lock, not the whole checkpoint, and
        under overlapping readers it failed for 1.5 s where retrying succeeded in 0.5 s."""
        conn = self.conn
        conn.execute("PRAGMA busy_timeout=0")
        deadline = time.monotonic() + wait_seconds
        try:
            while True:
                try:
                    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                    if not busy:
                        return True
                except sqlite3.OperationalError as exc:  # busy: a reader is in the log
                    log.debug("WAL restart deferred: %s", exc)
                if time.monotonic() + RESTART_RETRY_SECONDS > deadline:
                    return False
                time.sleep(RESTART_RETRY_SECONDS)
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(self.wait * 1000)}")  # 503 past it

    def _next_seq(self) -> int:
        seq = max(time.time_ns() // 1000, self._seq_last + 1)
        self._seq_last = seq
        return seq

    @staticmethod
    def _values(row: DeliveryRow, seq: int) -> tuple[object, ...]:
        return (
            row.guid, seq, row.event, row.action, row.installation_id, row.repo_full_name,
            row.item_number, sqlite_timestamp(row.received_at), payloads.pack(row.payload),
            _RECEIVED, 0,
        )  # fmt: skip

    def _write_all_new(self, values: list[tuple[object, ...]]) -> list[str] | None:
        """One INSERT for the group; None when a GUID was stored before."""
        outcomes: list[str] = []
        fresh: list[object] = []
        seen: set[object] = set()
        for one in values:
            if one[0] in seen:  # twice in one group: the second copy finds it pending
                outcomes.append(Stored.PENDING)
                continue
            seen.add(one[0])
            outcomes.append(Stored.NEW)
            fresh.extend(one)
        sql = _HEAD + ", ".join([_ROW] * len(seen)) + _TAIL
        if self.conn.execute(sql, fresh).rowcount != len(seen):
            return None
        return outcomes

    def _write_one(self, one: tuple[object, ...]) -> str:
        conn = self.conn
        if conn.execute(_HEAD + _ROW + _TAIL, one).rowcount == 1:
            return Stored.NEW
        (status,) = conn.execute(
            "SELECT status FROM deliveries WHERE guid = ?", (one[0],)
        ).fetchone()
        if status in (_FAILED, _DEAD):
            # GitHub redelivers with the same GUID: process it again, with the payload just
            # received (the stored one may have been reduced by the payload retention).
            conn.execute(
                "UPDATE deliveries SET status = ?, next_attempt_at = NULL, attempts = 0, seq = ?,"
                " payload = ? WHERE guid = ?",
                (_RECEIVED, one[1], one[_COLUMNS.index("payload")], one[0]),
            )
            return Stored.REQUEUED
        if status in (_DONE, _IGNORED):
            return Stored.DONE
        return Stored.PENDING
