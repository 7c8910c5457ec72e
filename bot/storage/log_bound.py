"""Keeps a SQLite write-ahead log bounded, for whoever appends webhooks to it: the writer
process (bot/intake/sqlite_writer.py) or the web process's writer thread (bot/intake/writer.py).

SQLite's automatic checkpoints copy the log back but can only start it over once no reader
uses it, so readers that never all pause (worker, dashboard, digest) let it grow. Every
`WAL_CHECK_EVERY` groups the writer looks at the log's size. Past `WAL_SIZE_LIMIT_BYTES` it asks
for a RESTART checkpoint for at most `RESTART_WAIT_MS`: the log starts over, which
`journal_size_limit` then cuts back, or the writer gives up until its next look. Readers whose
transactions overlap may never all pause within that (bench/wal.py, readers of 0.5 s: 1.8 GB in
20 s, no restart), so past `URGENT_FACTOR` times the limit it waits up to `URGENT_WAIT_MS`: for
the readers that started before the checkpoint, then for those that started while it copied
the log back (later ones read the database file), about two reader transactions. Intake waits
that long at most, well within GitHub's 10 s, rather than the log growing without bound; after
such a wait in vain (a reader holding one snapshot for longer), not again for
`URGENT_EVERY_SECONDS`. Standard library only: the writer process imports it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time

from bot.storage import sqlite_pragmas

log = logging.getLogger(__name__)

WAL_CHECK_EVERY = 64  # groups between two looks at the log's size (one stat call)
RESTART_WAIT_MS = 50  # the longest a RESTART checkpoint waits for readers to move on
RESTART_RETRY_SECONDS = 0.01  # between two tries of the checkpoint within a wait
URGENT_FACTOR = 4
URGENT_WAIT_MS = 1500
URGENT_EVERY_SECONDS = 5.0


class LogBound:
    """The bound of one database file's log, kept by the one writer that appends to it."""

    def __init__(self, db_path: str) -> None:
        self._wal = f"{db_path}-wal"
        self._groups = 0
        self.restarts = 0  # checkpoints that started the log over (bench/wal.py)
        self.urgent_waits = 0  # the longer waits asked for, past URGENT_FACTOR times the limit
        self._next_urgent = 0.0  # monotonic time before which no longer wait is asked for

    def due(self) -> bool:
        """Count a committed group; whether it is time to look at the log."""
        self._groups += 1
        return self._groups % WAL_CHECK_EVERY == 0

    def look(self, conn: sqlite3.Connection) -> None:
        """Start the log over if it is past its limit, on `conn` (outside any transaction)."""
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
        restarted = self._restart(conn, (URGENT_WAIT_MS if urgent else RESTART_WAIT_MS) / 1000)
        self.restarts += restarted
        if urgent and not restarted:  # a reader holds on: intake does not wait again soon
            self._next_urgent = now + URGENT_EVERY_SECONDS

    def _restart(self, conn: sqlite3.Connection, wait_seconds: float) -> bool:
        """Ask for a RESTART checkpoint, again every `RESTART_RETRY_SECONDS` until it starts
        the log over or `wait_seconds` have passed. Each try gives up at once when a reader is
        in the way: SQLite's own busy wait retries one lock, not the whole checkpoint, and
        under overlapping readers it failed for 1.5 s where retrying succeeded in 0.5 s."""
        (wait_ms,) = conn.execute("PRAGMA busy_timeout").fetchone()  # the connection's own
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
            conn.execute(f"PRAGMA busy_timeout={int(wait_ms)}")  # the writer's: 503 past it
