"""procrastinate on PostgreSQL: the job queue of the scale-out mode.

The deliveries table stays the record (status, attempts, errors, per-handler progress);
procrastinate decides who runs what and when:

- one job per stored delivery, task `veilleur.delivery`, argument the GUID, deferred by the
  web replica *in the transaction that stores the delivery* (procrastinate's external
  `connection`): a delivery is never stored without its job, nor a job without its delivery;
- the job's `lock` is `repo#number`: procrastinate runs the jobs of one lock one at a time,
  in job order, and a retried job keeps its id, so a later delivery of an item waits behind an
  earlier one still failing (as in the embedded queue). Deliveries without an item lock on
  nothing and run in parallel.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector, SyncPsycopgConnector
from procrastinate.jobs import Job
from sqlalchemy.engine import Connection, make_url

from bot.intake.writer import DeliveryRow, InTransaction

log = logging.getLogger(__name__)

TASK_DELIVERY = "veilleur.delivery"
QUEUE_DELIVERIES = "deliveries"
QUEUE_PERIODIC = "periodic"
ORPHAN_PRIORITY = 1  # an orphan is older than any job of its item deferred since: it goes first
_SCHEMA_LOCK = 0x7665696C  # pg_advisory_lock key while applying the schema ("veil")


def conninfo(database_url: str) -> str:
    """The libpq URI of a SQLAlchemy URL (`postgresql+psycopg://…?options=…` kept)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


def item_lock(repo: str | None, number: int | None) -> str | None:
    return f"{repo}#{number}" if repo and number is not None else None


def delivery_job(guid: str, lock: str | None, *, priority: int = 0, at: Any = None) -> Job:
    return Job(
        id=None,
        queue=QUEUE_DELIVERIES,
        lock=lock,
        queueing_lock=None,  # duplicates are harmless: claiming by GUID lets one through
        task_name=TASK_DELIVERY,
        task_kwargs={"guid": guid},
        priority=priority,
        scheduled_at=at,
    )


def make_app(database_url: str, *, sync: bool = False, **pool: Any) -> App:
    """A procrastinate App on the database; `sync` for web replicas (defer only)."""
    info = conninfo(database_url)
    connector: Any
    if sync:
        connector = SyncPsycopgConnector(conninfo=info, **pool)
    else:
        connector = PsycopgConnector(conninfo=info, **pool)
    return App(connector=connector)


def intake_hook(database_url: str) -> InTransaction:
    """For `DeliveryWriter`: enqueue one job per stored row, on the intake's own connection
    and transaction. The App's connector is never opened: every defer rides that connection."""
    app = make_app(database_url, sync=True)

    def defer(conn: Connection, rows: list[DeliveryRow]) -> None:
        raw = conn.connection.driver_connection
        jobs = [delivery_job(r.guid, item_lock(r.repo_full_name, r.item_number)) for r in rows]
        app.job_manager.batch_defer_jobs(jobs, connection=raw)

    return defer


def schema_applied(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    return bool(row and row[0])


# procrastinate's fetch looks up, for each candidate job, the other jobs of its lock; its own
# index on (id, lock) cannot serve `lock = …`, so with thousands of waiting jobs (and fresh
# statistics) each fetch took 100-200 ms. This index makes it an index seek (~10x faster).
_LOCK_INDEX = (
    "CREATE INDEX IF NOT EXISTS veilleur_procrastinate_jobs_lock ON procrastinate_jobs "
    "(lock, priority, id) WHERE status IN ('todo', 'doing')"
)


def apply_schema(database_url: str, *, alembic: bool = False) -> bool:
    """Create procrastinate's tables and functions once (in the URL's search_path), plus
    Veilleur's index; True when created now. With `alembic`, Veilleur's migrations first.
    Safe when several processes start together (one advisory lock around it all)."""
    from procrastinate.schema import SchemaManager

    with psycopg.connect(conninfo(database_url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            if alembic:
                from bot.storage.migrate import upgrade

                upgrade(database_url)
            created = not schema_applied(conn)
            if created:
                with conn.transaction():
                    conn.execute(SchemaManager.get_schema())
                log.info("applied procrastinate's schema")
            conn.execute(_LOCK_INDEX)
            return created
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))
