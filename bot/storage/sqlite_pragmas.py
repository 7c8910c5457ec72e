"""The PRAGMAs every SQLite connection gets, whoever opens it (SQLAlchemy or plain sqlite3).

WAL with `synchronous=FULL`: a commit is on disk before its 202 (bench/README, Durability).
`journal_size_limit`: once a checkpoint has copied the log back and the log starts over, the
file is cut back to this size, so a burst does not leave a log of hundreds of MB behind.
`auto_vacuum=INCREMENTAL` must come before WAL: switching to WAL writes the header of a new
file, after which its auto-vacuum mode is fixed (a no-op on an existing database).
"""

from __future__ import annotations

from typing import Any

WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
# How long a webhook's write waits for a locked SQLite file before the request gets 503: GitHub
# waits 10 s for an answer, and a 503 tells it (and the recovery job) to deliver again.
WRITE_WAIT_SECONDS = 2.0

# Only a new, empty file takes it (bot/storage/reclaim.py); set before WAL, and never on an
# existing file, where it is a no-op that a read-only connection would refuse as a write.
NEW_FILE_PRAGMA = "PRAGMA auto_vacuum=INCREMENTAL"
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}",
)


def apply(dbapi_conn: Any, busy_timeout_seconds: float = 30.0) -> None:
    """Set the PRAGMAs on a new DB-API connection; a locked file is waited for this long."""
    cur = dbapi_conn.cursor()
    if cur.execute("PRAGMA page_count").fetchone()[0] == 0:
        cur.execute(NEW_FILE_PRAGMA)
    for pragma in PRAGMAS:
        cur.execute(pragma)
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
    cur.close()
