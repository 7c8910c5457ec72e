"""Delivery lifecycle in the database: claim, finish, fail with backoff, die, recover.

The deliveries table is the embedded queue. A claim is one conditional UPDATE, so two
processes sharing the database never process the same delivery at once. Deliveries of one
item (repository and number) are taken in order of receipt: a later one waits while an
earlier one is still pending. The claim's cost depends on how far the first ready delivery
is, not on the size of the backlog (`_first_ready`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, TextualSelect, and_, case, func, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.storage.models import ACTIVE_ROWS, Delivery, DeliveryStatus, HandlerRun

S = DeliveryStatus
LEASE = timedelta(minutes=10)


CLAIM_BATCH = 256  # most rows read per step of the claim's walk; the first step reads 16


def _first_ready(s: Session, now: datetime, paused: frozenset[int] = frozenset()) -> str | None:
    """The GUID of the oldest delivery that is ready and first in line for its item.

    Walks the deliveries still to do in order of receipt, on the partial index
    `ix_deliveries_active_seq`, a batch at a time: the first row met for an item is its head;
    if the head is not ready (being processed, or a failure waiting for its retry), the rest
    of that item waits behind it. So a claim reads up to the first ready head, whatever the
    size of the backlog, with no sort and no subquery per row. Deliveries without an item
    (push, membership...) never wait for each other. A delivery of a `paused` installation
    (rate-limited) is not ready, and so holds its item's later deliveries behind it.
    """
    c = Delivery.__table__.c  # type: ignore[attr-defined]
    # SQLite's planner, without statistics, would rather take the status index and sort every
    # pending row: INDEXED BY makes it walk the partial index (and fails if it cannot).
    hint = " INDEXED BY ix_deliveries_active_seq" if s.get_bind().dialect.name == "sqlite" else ""
    columns = (
        c.guid,
        c.seq,
        c.status,
        c.next_attempt_at,
        c.repo_full_name,
        c.item_number,
        c.installation_id,
    )

    def walk(after: int | None) -> TextualSelect:
        # The index's own condition, word for word, so that both engines can use it.
        sql = (
            "SELECT guid, seq, status, next_attempt_at, repo_full_name, item_number,"  # noqa: S608
            f" installation_id FROM deliveries{hint} WHERE {ACTIVE_ROWS.text}"
            + ("" if after is None else " AND seq > :after")
            + " ORDER BY seq LIMIT :batch"
        )
        params = {"batch": batch} if after is None else {"batch": batch, "after": after}
        return text(sql).bindparams(**params).columns(*columns)

    seen: set[tuple[str, int]] = set()
    after: int | None = None
    batch = 16  # the usual answer is the first row: read few, then more
    while True:
        rows = s.execute(walk(after)).all()
        for guid, seq, status, next_attempt_at, repo, number, installation in rows:
            after = seq
            ready = (
                status in S.PENDING
                and (next_attempt_at is None or next_attempt_at <= now)
                and installation not in paused
            )
            if repo is None or number is None:
                if ready:
                    return str(guid)
                continue
            if (repo, number) in seen:
                continue  # behind an earlier delivery of the same item
            seen.add((repo, number))
            if ready:
                return str(guid)
        if len(rows) < batch or after is None:
            return None
        batch = min(batch * 4, CLAIM_BATCH)


def claim_next(engine: Engine, now: datetime, paused: Sequence[int] = ()) -> Delivery | None:
    """Take the oldest ready delivery, or None; none of the `paused` installations'."""
    with Session(engine, expire_on_commit=False) as s:
        for _ in range(5):
            guid = _first_ready(s, now, frozenset(paused))
            if guid is None:
                s.commit()
                return None
            claimed = s.exec(
                update(Delivery)
                .where(col(Delivery.guid) == guid, col(Delivery.status).in_(S.PENDING))
                .values(status=S.PROCESSING, locked_at=now, attempts=Delivery.attempts + 1)
            ).rowcount
            s.commit()
            if claimed == 1:
                return s.get(Delivery, guid)
        return None


def claim(engine: Engine, guid: str, now: datetime) -> Delivery | None:
    """Take one named delivery (queue-engine mode), or None when it is not pending."""
    with Session(engine, expire_on_commit=False) as s:
        claimed = s.exec(
            update(Delivery)
            .where(
                col(Delivery.guid) == guid,
                or_(
                    col(Delivery.status).in_(S.PENDING),
                    and_(
                        col(Delivery.status) == S.PROCESSING,
                        col(Delivery.locked_at) < now - LEASE,
                    ),
                ),
            )
            .values(status=S.PROCESSING, locked_at=now, attempts=Delivery.attempts + 1)
        ).rowcount
        s.commit()
        return s.get(Delivery, guid) if claimed else None


def finish(engine: Engine, guid: str, now: datetime, *, ignored: bool = False) -> None:
    with Session(engine) as s:
        s.execute(
            update(Delivery)
            .where(col(Delivery.guid) == guid)
            .values(
                status=S.IGNORED if ignored else S.DONE,
                processed_at=now,
                locked_at=None,
                last_error=None,
                next_attempt_at=None,
            )
        )
        s.commit()


def backoff(attempts: int, base_seconds: float) -> timedelta:
    return timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), 6 * 3600))


def fail(
    engine: Engine, guid: str, now: datetime, error: str, *, max_attempts: int, base_seconds: float
) -> str:
    """Record a failure; returns the new status (failed, to retry, or dead)."""
    with Session(engine) as s:
        delivery = s.get(Delivery, guid)
        if delivery is None:
            return S.DEAD
        dead = delivery.attempts >= max_attempts
        delivery.status = S.DEAD if dead else S.FAILED
        delivery.last_error = error[:4000]
        delivery.locked_at = None
        delivery.next_attempt_at = None if dead else now + backoff(delivery.attempts, base_seconds)
        s.add(delivery)
        s.commit()
        return delivery.status


def postpone(engine: Engine, guid: str, until: datetime, reason: str) -> None:
    """GitHub asked to wait: pending again from `until`, and this attempt is not counted."""
    with Session(engine) as s:
        s.execute(
            update(Delivery)
            .where(col(Delivery.guid) == guid)
            .values(
                status=S.FAILED,
                attempts=case((col(Delivery.attempts) > 0, Delivery.attempts - 1), else_=0),
                locked_at=None,
                next_attempt_at=until,
                last_error=reason[:4000],
            )
        )
        s.commit()


def release_stale(engine: Engine, now: datetime, *, everything: bool = False) -> int:
    """Put deliveries a stopped process was working on back in the queue."""
    cond: ColumnElement[bool] = col(Delivery.status) == S.PROCESSING
    if not everything:
        cond = and_(cond, col(Delivery.locked_at) < now - LEASE)
    with Session(engine) as s:
        n = s.exec(update(Delivery).where(cond).values(status=S.RECEIVED, locked_at=None)).rowcount
        s.commit()
        return n


def handler_done(engine: Engine, guid: str) -> set[str]:
    with Session(engine) as s:
        rows = s.execute(
            select(col(HandlerRun.handler)).where(col(HandlerRun.delivery_guid) == guid)
        )
        return {r[0] for r in rows}


def mark_handler_done(engine: Engine, guid: str, handler: str, now: datetime) -> None:
    with Session(engine) as s:
        if s.get(HandlerRun, (guid, handler)) is None:
            s.add(HandlerRun(delivery_guid=guid, handler=handler, finished_at=now))
            s.commit()


@dataclass
class QueueStats:
    by_status: dict[str, int]
    depth: int
    oldest_age_seconds: float


def stats(engine: Engine, now: datetime) -> QueueStats:
    with Session(engine) as s:
        rows = s.execute(
            select(col(Delivery.status), func.count()).group_by(col(Delivery.status))
        ).all()
        by_status = {status: int(n) for status, n in rows}
        oldest = s.execute(
            select(func.min(col(Delivery.received_at))).where(
                col(Delivery.status).in_([S.RECEIVED, S.FAILED, S.PROCESSING])
            )
        ).scalar()
    depth = sum(by_status.get(k, 0) for k in (S.RECEIVED, S.FAILED, S.PROCESSING))
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        age = max((now - oldest).total_seconds(), 0.0)
    return QueueStats(by_status=by_status, depth=depth, oldest_age_seconds=age)


def recent(engine: Engine, limit: int = 50, status: str | None = None) -> list[Delivery]:
    with Session(engine) as s:
        q = select(Delivery)
        if status:
            q = q.where(col(Delivery.status) == status)
        q = q.order_by(col(Delivery.seq).desc()).limit(limit)
        return list(s.scalars(q).all())
