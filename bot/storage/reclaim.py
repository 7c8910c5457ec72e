"""Giving the space of purged rows back to the file system (SQLite), after each purge.

Reducing payloads (bot/privacy/retention.py) only frees pages inside the database file;
SQLite gives them back to the file system only through a vacuum. Every new database is created
with `auto_vacuum=INCREMENTAL` (bot/storage/sqlite_pragmas.py), so the purge job then runs
`PRAGMA incremental_vacuum` in steps of `STEP_PAGES`, each its own short write transaction:
the intake writer waits for one step at most, never for the whole reclaim. A database created
before that setting (`auto_vacuum=NONE`) is converted once by a full VACUUM, only when at least
`CONVERT_FREE_SHARE` of it is free (a one-off rewrite, at the job's quiet hour). Last, a
TRUNCATE checkpoint that waits at most `CHECKPOINT_WAIT_MS` for readers empties the
write-ahead log the purge filled. PostgreSQL needs nothing here: autovacuum makes the space
reusable, so the table stops growing.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.storage import sqlite_pragmas
from bot.storage.db import sqlite_file

log = logging.getLogger(__name__)

STEP_PAGES = 2048  # pages given back per transaction (8 MiB of 4 KiB pages)
CONVERT_FREE_SHARE = 0.25  # an `auto_vacuum=NONE` database is rewritten once past this share
CHECKPOINT_WAIT_MS = 50
NONE, FULL, INCREMENTAL = 0, 1, 2


@dataclass(frozen=True)
class Reclaimed:
    before: int  # bytes on disk (database and write-ahead log) before
    after: int
    how: str  # "incremental", "vacuum" (one-off conversion), "none"

    @property
    def freed(self) -> int:
        return max(self.before - self.after, 0)


def on_disk(path: str) -> int:
    """The database's bytes on disk: the file and its write-ahead log."""
    total = 0
    for name in (path, f"{path}-wal"):
        try:
            total += os.path.getsize(name)
        except OSError:
            pass
    return total


def reclaim(engine: Engine) -> Reclaimed | None:
    """Give free pages back to the file system; None when the database is not a SQLite file."""
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is None:
        return None
    return reclaim_file(path)


def reclaim_file(path: str) -> Reclaimed:
    before = on_disk(path)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        sqlite_pragmas.apply(conn)
        how = _vacuum(conn)
        _truncate_log(conn)
    finally:
        conn.close()
    done = Reclaimed(before, on_disk(path), how)
    if done.freed:
        log.info("reclaim (%s): %d bytes given back", how, done.freed)
    return done


def _pragma(conn: sqlite3.Connection, name: str) -> int:
    return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


def _vacuum(conn: sqlite3.Connection) -> str:
    mode = _pragma(conn, "auto_vacuum")
    free = _pragma(conn, "freelist_count")
    if mode == NONE:
        if free < CONVERT_FREE_SHARE * _pragma(conn, "page_count"):
            return "none"
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect with this VACUUM
        conn.execute("VACUUM")
        return "vacuum"
    if mode == INCREMENTAL:
        while free:
            # executescript steps the pragma to its end; execute() frees a single page
            conn.executescript(f"PRAGMA incremental_vacuum({STEP_PAGES});")
            left = _pragma(conn, "freelist_count")
            if left >= free:  # no progress (should not happen): stop rather than spin
                break
            free = left
        return "incremental"
    return "none"  # FULL: SQLite already shrinks the file at every commit


def _truncate_log(conn: sqlite3.Connection) -> None:
    """Copy the log back and cut it to zero, waiting briefly for readers (never for long)."""
    conn.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.OperationalError as exc:  # a reader or writer is busy: next purge
        log.debug("reclaim: log not truncated: %s", exc)
