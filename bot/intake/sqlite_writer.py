"""The writer process's SQLite writer: plain `sqlite3`, no SQLAlchemy, SQLModel or pydantic.

The writer process only appends rows, so it imports only what that takes (about a third of
the memory of the ORM stack: bench/memory.py). It writes exactly what `GroupWriter`
(bot/intake/writer.py) writes: same columns, same encodings, same outcomes; a test compares
the two row for row.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime

from bot.intake.rows import DeliveryRow, Stored
from bot.storage import payloads, sqlite_pragmas
from bot.storage.log_bound import LogBound

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


# Prepared statements kept by the connection. Each group size is a statement of its own (one
# VALUES list of n rows), and one of hundreds of rows holds hundreds of KB: sqlite3's default
# of 128 grew the writer by 40 MB on varied sizes. Re-preparing costs far less than a commit.
CACHED_STATEMENTS = 4
# The writer only appends: it touches the tail of the table and the paths down its indexes,
# and a page missing from this cache is read back from the OS's (SQLite's default: 2 MB).
CACHE_KIB = 512


class SqliteGroupWriter:
    """Writes groups of rows, each in one transaction, like `GroupWriter`, on one connection,
    and keeps the write-ahead log bounded (bot/storage/log_bound.py; off for bench/wal.py's
    comparison)."""

    def __init__(self, path: str, *, bound_wal: bool = True) -> None:
        self.wait = sqlite_pragmas.WRITE_WAIT_SECONDS  # then 503: GitHub delivers again
        self.conn = sqlite3.connect(
            path, timeout=self.wait, isolation_level=None, cached_statements=CACHED_STATEMENTS
        )
        sqlite_pragmas.apply(self.conn, self.wait)
        self.conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._seq_last = 0
        self.log_bound = LogBound(path) if bound_wal else None

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
        if self.log_bound is not None and self.log_bound.due():
            self.log_bound.look(conn)
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
