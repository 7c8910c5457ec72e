"""One migration history for SQLite and PostgreSQL, and it matches the models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401
from bot.storage.db import make_engine
from bot.storage.migrate import downgrade, upgrade

ROOT = Path(__file__).resolve().parents[1]


def test_migrations_match_models_and_round_trip(migrated: str) -> None:
    engine = make_engine(migrated)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    downgrade(migrated, "base")
    upgrade(migrated)


def test_serve_upgrades_the_schema_in_a_process_apart(tmp_path: Path) -> None:
    """`veilleur serve`'s process (and the worker forked from it) never loads Alembic."""
    url = f"sqlite:///{tmp_path / 'apart.db'}"
    code = (
        "import sys\n"
        "from bot.storage.upgrade_apart import upgrade_apart\n"
        f"upgrade_apart({url!r}, 'ERROR:json')\n"
        "print(sorted(m for m in ('alembic', 'mako') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stderr
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []  # at the latest revision
