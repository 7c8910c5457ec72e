"""Engine creation. SQLite gets WAL and a busy timeout so web, worker and CLI can share one file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from bot.storage import sqlite_pragmas
from bot.storage.sqlite_pragmas import WRITE_WAIT_SECONDS


def make_engine(url: str, *, pool_size: int = 5, busy_timeout_seconds: float = 30.0) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_seconds},
            pool_pre_ping=False,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            sqlite_pragmas.apply(dbapi_conn, busy_timeout_seconds)

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True)


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = make_url(url)
    db = parsed.database
    if parsed.get_backend_name() != "sqlite" or not db or db == ":memory:":
        return None
    return None if db.startswith("file::memory:") or "mode=memory" in url else db


def sqlite_writable(url: str, wait_seconds: float = WRITE_WAIT_SECONDS) -> bool:
    """Whether a write could take the SQLite file's lock within `wait_seconds` (`/readyz`);
    True for other databases. Reads keep working in WAL mode while a writer holds the lock."""
    import sqlite3

    path = sqlite_file(url)
    if path is None:
        return True
    try:
        conn = sqlite3.connect(path, timeout=wait_seconds, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.Error:
        return False
    finally:
        conn.close()
