"""a partial index on the deliveries still to do, for the worker's claim

Revision ID: 0002_active_deliveries
Revises: 0001
Create Date: 2026-12-04 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_active_deliveries"
down_revision = "0001"
branch_labels = None
depends_on = None

_ACTIVE_ROWS = sa.text("status IN ('received', 'failed', 'processing')")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_active_seq",
        "deliveries",
        ["seq"],
        unique=False,
        sqlite_where=_ACTIVE_ROWS,
        postgresql_where=_ACTIVE_ROWS,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_active_seq", table_name="deliveries")
