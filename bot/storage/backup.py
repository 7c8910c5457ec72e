# SPDX-License-Identifier: EUPL-1.2
"""`veilleur db backup FILE`: a consistent copy of the database while Veilleur runs.

SQLite: the online backup API (pages copied under SQLite's own locking, so writers keep going
and the copy is a consistent snapshot), checked with `PRAGMA integrity_check`. PostgreSQL:
`pg_dump --format=custom` (restore with `pg_restore`). Restoring is described in
docs/deploy.md.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from bot.storage.db import sqlite_file


class BackupError(Exception):
    """One sentence for the administrator: why there is no backup."""


def backup(database_url: str, target: Path, *, force: bool = False) -> str:
    """Write the backup to `target` (never over an existing file unless `force`); returns a
    one-line summary."""
    if target.exists() and not force:
        raise BackupError(f"{target} already exists; choose another name or pass --force.")
    target.parent.mkdir(parents=True, exist_ok=True)
    if database_url.startswith("sqlite"):
        return _sqlite(database_url, target)
    return _postgres(database_url, target)


def _sqlite(database_url: str, target: Path) -> str:
    source = sqlite_file(database_url)
    if source is None or not Path(source.removeprefix("file:").split("?")[0]).exists():
        raise BackupError(f"no SQLite database file at {database_url}.")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    uri = source if source.startswith("file:") else Path(source).resolve().as_uri()
    with sqlite3.connect(uri, uri=True) as src:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=1024)  # steps of 4 MiB: writers are not held up for long
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed SQLite's integrity check: {check}")
    os.chmod(partial, 0o600)
    partial.replace(target)
    return f"SQLite backup written to {target} ({target.stat().st_size} bytes)"


def _libpq_url(database_url: str) -> tuple[str, str | None]:
    """The URL for pg_dump (no SQLAlchemy driver suffix) and the schema in its search_path."""
    parts = urlsplit(database_url.replace("postgresql+psycopg://", "postgresql://", 1))
    options = " ".join(parse_qs(parts.query).get("options", []))
    schema = None
    for option in options.split():
        if option.startswith("-csearch_path="):
            schema = option.split("=", 1)[1].split(",")[0].strip()
    return urlunsplit(parts), schema


def _postgres(database_url: str, target: Path) -> str:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError(
            "pg_dump is not installed: install the PostgreSQL client of the server's version "
            "(Debian: postgresql-client)."
        )
    url, schema = _libpq_url(database_url)
    partial = target.with_name(target.name + ".partial")
    command = [pg_dump, "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={url}"]
    if schema:
        command.append(f"--schema={schema}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        lines = done.stderr.strip().splitlines() or ["no message"]
        raise BackupError(f"pg_dump failed: {lines[-1]}")
    os.chmod(partial, 0o600)
    partial.replace(target)
    return f"PostgreSQL backup (pg_dump custom format) written to {target}"
