# SPDX-License-Identifier: EUPL-1.2
"""`veilleur db backup FILE` and the restores docs/deploy.md describes, on both databases."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.storage.backup import _libpq_url
from bot.storage.db import make_engine


def _add_repo(url: str, ident: int, name: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO repositories (id, full_name, owner, private) VALUES (:i, :n, :o, :p)"
            ),
            {"i": ident, "n": name, "o": name.split("/")[0], "p": False},
        )
    engine.dispose()


def _repos(url: str) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT full_name FROM repositories ORDER BY id")).all()
    engine.dispose()
    return [r[0] for r in rows]


def test_sqlite_backup_is_a_consistent_snapshot_and_restores(tmp_path: Path) -> None:
    live = tmp_path / "veilleur.db"
    url = f"sqlite:///{live}"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    _add_repo(url, 1, "ville/site")
    writer = sqlite3.connect(live)  # a transaction in progress while the backup runs
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO repositories (id, full_name, owner, private) VALUES (2, 'ville/x', 'ville', 0)"
    )
    target = tmp_path / "backups" / "veilleur-2026-12-04.db"
    assert main(["db", "backup", str(target), "--database-url", url]) == 0
    writer.rollback()
    writer.close()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not (tmp_path / "backups" / "veilleur-2026-12-04.db-wal").exists()

    # restore as docs/deploy.md says: Veilleur stopped, the copy replaces the file
    _add_repo(url, 3, "ville/after-the-backup")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    shutil.copy(target, live)
    assert _repos(url) == ["ville/site"]  # committed rows only, as of the backup
    assert main(["db", "upgrade", "--database-url", url]) == 0


def test_an_existing_backup_is_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    main(["db", "upgrade", "--database-url", url])
    target = tmp_path / "b.db"
    target.write_text("older backup")
    assert main(["db", "backup", str(target), "--database-url", url]) == 1
    assert "already exists" in capsys.readouterr().err
    assert target.read_text() == "older backup"
    assert main(["db", "backup", str(target), "--force", "--database-url", url]) == 0
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
    missing = f"sqlite:///{tmp_path / 'nothing.db'}"
    assert main(["db", "backup", str(tmp_path / "c.db"), "--database-url", missing]) == 1


def test_the_schema_of_the_url_is_what_pg_dump_saves() -> None:
    url = "postgresql+psycopg://u:p@db:5432/veilleur?options=-csearch_path%3Dt_abc"
    assert _libpq_url(url) == (
        "postgresql://u:p@db:5432/veilleur?options=-csearch_path%3Dt_abc",
        "t_abc",
    )
    assert _libpq_url("postgresql://u@db/v") == ("postgresql://u@db/v", None)


@pytest.mark.postgres
def test_postgres_backup_with_pg_dump_and_restore(pg_url: str, tmp_path: Path) -> None:
    assert main(["db", "upgrade", "--database-url", pg_url]) == 0
    _add_repo(pg_url, 1, "ville/site")
    target = tmp_path / "veilleur.dump"
    assert main(["db", "backup", str(target), "--database-url", pg_url]) == 0
    _add_repo(pg_url, 2, "ville/after-the-backup")

    # restore as docs/deploy.md says: drop what is there, pg_restore the archive
    libpq, schema = _libpq_url(pg_url)
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()
    pg_restore = shutil.which("pg_restore") or "pg_restore"
    subprocess.run([pg_restore, "--no-owner", f"--dbname={libpq}", str(target)], check=True)
    assert _repos(pg_url) == ["ville/site"]
