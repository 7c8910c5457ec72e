"""One migration history for SQLite and PostgreSQL, and it matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401
from bot.storage.db import make_engine
from bot.storage.migrate import downgrade, upgrade


def test_migrations_match_models_and_round_trip(migrated: str) -> None:
    engine = make_engine(migrated)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    downgrade(migrated, "base")
    upgrade(migrated)
