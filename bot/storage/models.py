"""Veilleur's own record: deliveries, installations, items and their timeline, action keys.

This record is the single source of truth for the SLA engine and the OSPO digest, so both
cost no GitHub API calls. Timestamps are stored as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _big(primary_key: bool = False, index: bool = False, nullable: bool = True) -> Any:
    """GitHub ids and receipt sequence numbers overflow 32-bit integers."""
    return Field(
        default=None,
        sa_column=Column(BigInteger, primary_key=primary_key, index=index, nullable=nullable),
    )


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


class DeliveryStatus:
    RECEIVED = "received"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"
    IGNORED = "ignored"  # stored but no handler wanted it (kept for audit)

    PENDING = (RECEIVED, FAILED)


# The claim walks only the deliveries still to do, in order of receipt (bot/queue/deliveries.py):
# a partial index stays as small as the backlog however many rows are done.
ACTIVE_ROWS = text("status IN ('received', 'failed', 'processing')")


class Delivery(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_deliveries_item_seq", "repo_full_name", "item_number", "seq"),
        Index(
            "ix_deliveries_active_seq",
            "seq",
            sqlite_where=ACTIVE_ROWS,
            postgresql_where=ACTIVE_ROWS,
        ),
    )

    guid: str = Field(primary_key=True, max_length=64)
    seq: int | None = _big(index=True)  # order of receipt: microseconds, strictly increasing
    event: str = Field(max_length=64)
    action: str | None = Field(default=None, max_length=64)
    installation_id: int | None = _big(index=True)
    repo_full_name: str | None = Field(default=None, max_length=200)
    item_number: int | None = None
    received_at: datetime = _ts(nullable=False)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default=DeliveryStatus.RECEIVED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts()
    locked_at: datetime | None = _ts()
    processed_at: datetime | None = _ts()
    last_error: str | None = None


class HandlerRun(SQLModel, table=True):
    """Which handler already finished a delivery, so a retry only reruns the ones that failed."""

    __tablename__ = "handler_runs"

    delivery_guid: str = Field(primary_key=True, max_length=64)
    handler: str = Field(primary_key=True, max_length=64)
    finished_at: datetime = _ts(nullable=False)


class Installation(SQLModel, table=True):
    __tablename__ = "installations"

    id: int = _big(primary_key=True, nullable=False)
    account_login: str = Field(max_length=200, index=True)
    account_type: str = Field(default="Organization", max_length=32)
    repository_selection: str | None = Field(default=None, max_length=16)
    created_at: datetime | None = _ts()
    suspended_at: datetime | None = _ts()
    deleted_at: datetime | None = _ts()


class Repository(SQLModel, table=True):
    __tablename__ = "repositories"

    id: int = _big(primary_key=True, nullable=False)
    installation_id: int | None = _big(index=True)
    full_name: str = Field(max_length=200, index=True)
    owner: str = Field(max_length=100, index=True)
    private: bool = False
    default_branch: str | None = Field(default=None, max_length=200)
    added_at: datetime | None = _ts()
    removed_at: datetime | None = _ts()


class Item(SQLModel, table=True):
    """An issue or pull request, as last seen."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("repo_full_name", "number", name="uq_items_repo_number"),
        Index("ix_items_owner_state", "owner", "state"),
        # first contribution of a person in an org (digest: new contributors)
        Index("ix_items_author_owner_created", "author_login", "owner", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    repo_full_name: str = Field(max_length=200)
    owner: str = Field(max_length=100)
    number: int
    kind: str = Field(max_length=8)  # issue | pull
    github_id: int | None = _big()
    title: str = ""
    author_login: str = Field(default="", max_length=100)
    author_type: str = Field(default="User", max_length=16)
    author_association: str | None = Field(default=None, max_length=32)
    author_class: str | None = Field(default=None, max_length=24)
    author_company: str | None = Field(default=None, max_length=200)
    author_email_domain: str | None = Field(default=None, max_length=200)
    state: str = Field(default="open", max_length=8)
    draft: bool = False
    created_at: datetime = _ts(nullable=False, index=True)
    updated_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    merged_at: datetime | None = _ts()
    closed_by: str | None = Field(default=None, max_length=100)
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    assignees: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class TimelineEntry(SQLModel, table=True):
    """Who did what to an item, and when. `source_key` makes recording idempotent."""

    __tablename__ = "timeline"
    __table_args__ = (
        UniqueConstraint("repo_full_name", "number", "source_key", name="uq_timeline_source"),
        Index("ix_timeline_item", "repo_full_name", "number", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    repo_full_name: str = Field(max_length=200)
    number: int
    occurred_at: datetime = _ts(nullable=False)
    kind: str = Field(max_length=32)
    actor_login: str | None = Field(default=None, max_length=100)
    actor_type: str | None = Field(default=None, max_length=16)
    actor_class: str | None = Field(default=None, max_length=24)
    source_key: str = Field(max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class TimelineKind:
    OPENED = "opened"
    REOPENED = "reopened"
    CLOSED = "closed"
    MERGED = "merged"
    COMMENTED = "commented"
    COMMENT_EDITED = "comment_edited"
    REVIEWED = "reviewed"
    LABELED = "labeled"
    UNLABELED = "unlabeled"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    REVIEW_REQUESTED = "review_requested"
    READY_FOR_REVIEW = "ready_for_review"
    CONVERTED_TO_DRAFT = "converted_to_draft"
    PUSHED = "pushed"  # pull_request.synchronize
    EDITED = "edited"
    TRANSFERRED = "transferred"
    DELETED = "deleted"
    CONVERTED_TO_DISCUSSION = "converted_to_discussion"
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    # Veilleur's own state changes, recorded on the same timeline.
    SNOOZED = "snoozed"
    WAITING_ON = "waiting_on"
    # The organisation a person asked to be credited to (`/affiliation independent`), or the
    # credit frozen when their login was pseudonymised (bot/privacy/retention.py).
    AFFILIATION = "affiliation"


class ActionLog(SQLModel, table=True):
    """Keys of one-off effects already carried out (mail, reminder stages, welcomes)."""

    __tablename__ = "action_log"

    key: str = Field(primary_key=True, max_length=300)
    done_at: datetime = _ts(nullable=False)
    dry_run: bool = False
    detail: str | None = None


class AuthorClassCache(SQLModel, table=True):
    __tablename__ = "author_classes"

    org: str = Field(primary_key=True, max_length=100)
    login: str = Field(primary_key=True, max_length=100)
    author_class: str = Field(max_length=24)
    partner: str | None = Field(default=None, max_length=200)
    expires_at: datetime = _ts(nullable=False)


class ConfigRecord(SQLModel, table=True):
    """Last fetched and last valid `.github/veilleur.yml` per repository (TTL cache + fallback)."""

    __tablename__ = "configs"

    repo_full_name: str = Field(primary_key=True, max_length=200)
    fetched_at: datetime = _ts(nullable=False)
    valid_json: str | None = None  # the last valid merged config
    # Last fetch: {"errors": [ConfigError...] (empty when valid), "sources": [file names read]}.
    errors_json: str | None = None


class BackfillCursor(SQLModel, table=True):
    """Where a history import of one repository stands, so it can resume."""

    __tablename__ = "backfill_cursors"

    repo_full_name: str = Field(primary_key=True, max_length=200)
    kind: str = Field(primary_key=True, max_length=16)  # issues | pulls | refresh
    cursor: str | None = None
    since: datetime | None = _ts()
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    items: int = 0
    requests: int = 0


class DigestPublication(SQLModel, table=True):
    """A weekly digest published for an org: exactly once per (org, week)."""

    __tablename__ = "digest_publications"

    org: str = Field(primary_key=True, max_length=100)
    week: str = Field(primary_key=True, max_length=10)  # ISO week, e.g. 2026-W29
    published_at: datetime = _ts(nullable=False)
    issue_number: int | None = None
    emailed: bool = False


class PrivacyKey(SQLModel, table=True):
    """Secret keys of the privacy features: the pseudonym key, created once (bot/privacy)."""

    __tablename__ = "privacy_keys"

    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)


class Erasure(SQLModel, table=True):
    """That an erasure took place, when and by which command; never whom (GDPR art. 17)."""

    __tablename__ = "erasures"

    id: int | None = Field(default=None, primary_key=True)
    erased_at: datetime = _ts(nullable=False)
    command: str = Field(max_length=100)
    rows_changed: int = 0
    payloads_changed: int = 0
