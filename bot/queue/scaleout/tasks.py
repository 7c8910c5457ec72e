"""The scale-out jobs, registered on a procrastinate App by `register()`.

- `veilleur.delivery(guid)`: claim the delivery by GUID (`deliveries.claim`, one conditional
  UPDATE), run the dispatcher, and when it failed, retry *the same job* at the delivery's
  `next_attempt_at` (so its item lock keeps later deliveries of the item waiting).
- `veilleur.job.<id>`: each job of `bot.periodic.JOBS`, as a procrastinate periodic task: its
  defer is unique per (task, period) across every worker, its `queueing_lock` keeps one
  waiting at most, its `lock` never runs two at once, and a `job:<id>:<period>` key in
  `action_log` skips a period already started (a job retried after its worker died).
- `veilleur.queue.reclaim-stalled`: jobs of workers whose heartbeat stopped (SIGKILL, lost
  machine) are put back, and their delivery released from `processing`.
- `veilleur.queue.enqueue-orphans`: pending deliveries without a job (stored before the
  scale-out mode, a job given up on, a lease left by a crash) get one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from procrastinate import App, BaseRetryStrategy, JobContext, RetryDecision
from procrastinate.jobs import Job
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot import prometheus as metrics
from bot.clock import Clock
from bot.logs import delivery_context
from bot.queue import deliveries
from bot.queue.scaleout.queue import (
    ORPHAN_PRIORITY,
    QUEUE_PERIODIC,
    TASK_DELIVERY,
    delivery_job,
    item_lock,
)
from bot.settings import Settings
from bot.storage.models import ActionLog, Delivery, DeliveryStatus

log = logging.getLogger(__name__)
S = DeliveryStatus
JobFunc = Callable[[Any, Clock], Awaitable[None]]
ORPHAN_GRACE = timedelta(minutes=2)


@dataclass
class Runtime:
    """What jobs need in a worker process; handed over as procrastinate's additional context."""

    settings: Settings
    engine: Engine
    clock: Clock
    runtime: Any  # bot.runtime.Runtime (its dispatcher runs the deliveries)
    stalled_after: float = 30.0  # seconds without heartbeat before a worker counts as dead


def runtime(context: JobContext) -> Runtime:
    return context.additional_context["veilleur"]


class DeliveryRetry(Exception):
    """The delivery failed and waits for its next attempt."""

    def __init__(self, at: datetime) -> None:
        super().__init__(f"next attempt at {at.isoformat()}")
        self.at = at


class DeliveryBusy(Exception):
    """Another process holds the delivery's lease; look again shortly."""


class Retry(BaseRetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, DeliveryRetry):
            return RetryDecision(retry_at=exception.at)
        if isinstance(exception, DeliveryBusy):
            return RetryDecision(retry_in={"seconds": 5}) if job.attempts < 1000 else None
        # Anything else (database unreachable…): back off, up to ~4 h in all.
        if job.attempts >= 60:
            return None
        return RetryDecision(retry_in={"seconds": min(2**job.attempts, 300)})


def _state(engine: Engine, guid: str) -> tuple[str | None, datetime | None, int | None]:
    with Session(engine) as s:
        row = s.execute(
            select(
                col(Delivery.status), col(Delivery.next_attempt_at), col(Delivery.installation_id)
            ).where(col(Delivery.guid) == guid)
        ).first()
    return (row[0], row[1], row[2]) if row else (None, None, None)


async def process_delivery(rt: Runtime, guid: str) -> str:
    """Claim and run one delivery; returns its final status or raises to be retried."""
    delivery = deliveries.claim(rt.engine, guid, rt.clock.now())
    if delivery is None:
        status, _, installation = _state(rt.engine, guid)
        with delivery_context(guid, installation):
            if status in (S.PROCESSING, S.RECEIVED, S.FAILED):
                raise DeliveryBusy(f"delivery {guid} is {status} elsewhere")
            log.info("delivery is %s: nothing to do", status or "unknown")
        return status or "unknown"
    try:
        await rt.runtime.dispatcher.run(delivery)  # logs with the delivery's GUID and installation
    except Exception:  # the outcome could not be recorded (database gone): give the lease back
        try:
            release(rt.engine, guid)
        except Exception as exc:
            log.warning("delivery %s keeps its lease until it expires: %s", guid, exc)
        raise
    status, at, _ = _state(rt.engine, guid)
    if status == S.FAILED:
        raise DeliveryRetry(at or rt.clock.now())
    return status or "unknown"


def release(engine: Engine, guid: str) -> bool:
    """A dead worker's lease: the delivery goes back to `received`."""
    with Session(engine) as s:
        result: Any = s.execute(
            update(Delivery)
            .where(col(Delivery.guid) == guid, col(Delivery.status) == S.PROCESSING)
            .values(status=S.RECEIVED, locked_at=None)
        )
        s.commit()
    return bool(result.rowcount)


async def reclaim_stalled(context: JobContext) -> int:
    rt, manager = runtime(context), context.app.job_manager
    n = 0
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=rt.stalled_after):
        if job.id == context.job.id:
            continue
        guid = job.task_kwargs.get("guid")
        if job.task_name == TASK_DELIVERY and isinstance(guid, str) and release(rt.engine, guid):
            log.warning("delivery %s was left in progress by a dead worker: released", guid)
        try:
            await manager.retry_job(job)
        except Exception as exc:  # another worker reclaimed it first
            log.info("stalled job %s not retried: %s", job.id, exc)
            continue
        n += 1
        log.warning("job %s (%s) of a dead worker put back in the queue", job.id, job.task_name)
    return n


_ORPHANS = text(
    """
    SELECT d.guid, d.repo_full_name, d.item_number, d.next_attempt_at
      FROM deliveries d
     WHERE d.status IN ('received', 'failed') AND d.received_at < :cutoff
       AND NOT EXISTS (
           SELECT 1 FROM procrastinate_jobs j
            WHERE j.task_name = :task AND j.status IN ('todo', 'doing')
              AND j.args ->> 'guid' = d.guid)
     ORDER BY d.seq
     LIMIT 1000
    """
)


async def enqueue_orphans(context: JobContext) -> int:
    rt = runtime(context)
    now = rt.clock.now()
    released = deliveries.release_stale(rt.engine, now)  # leases past LEASE (10 min)
    with rt.engine.connect() as conn:
        rows = conn.execute(_ORPHANS, {"cutoff": now - ORPHAN_GRACE, "task": TASK_DELIVERY}).all()
    jobs = [
        delivery_job(guid, item_lock(repo, number), priority=ORPHAN_PRIORITY, at=at)
        for guid, repo, number, at in rows
    ]
    if jobs:
        await context.app.job_manager.batch_defer_jobs_async(jobs)
    if jobs or released:
        log.warning("orphan sweep: %d leases released, %d jobs enqueued", released, len(jobs))
    return len(jobs)


def _claim_key(engine: Engine, key: str, now: datetime) -> bool:
    try:
        with Session(engine) as s:
            s.add(ActionLog(key=key, done_at=now, detail="periodic job started"))
            s.commit()
        return True
    except IntegrityError:
        return False


def _drop_key(engine: Engine, key: str) -> None:
    with Session(engine) as s:
        s.execute(delete(ActionLog).where(col(ActionLog.key) == key))
        s.commit()


_CRON_ORDER = ("month", "day", "day_of_week", "hour", "minute", "second")


def cron_of(trigger: dict[str, Any]) -> str:
    """An APScheduler trigger of `bot.periodic.JOBS` as a cron line (6th field: seconds)."""
    kind = trigger.get("trigger")
    if kind == "interval":
        units = ("weeks", "days", "hours", "minutes", "seconds")
        span = int(timedelta(**{k: trigger[k] for k in units if k in trigger}).total_seconds())
        if span < 60:
            return f"* * * * * */{max(span, 1)}"
        if span < 3600:
            return f"*/{span // 60} * * * *"
        if span < 86400:
            return f"0 */{span // 3600} * * *"
        return f"0 0 */{span // 86400} * *"
    if kind == "cron":
        given = [f for f in _CRON_ORDER if trigger.get(f) is not None]
        first = min((_CRON_ORDER.index(f) for f in given), default=len(_CRON_ORDER))
        value: dict[str, str] = {}
        for i, f in enumerate(_CRON_ORDER):
            if trigger.get(f) is not None:
                value[f] = str(trigger[f])
            elif i > first and f != "day_of_week":  # APScheduler: finer fields default to min
                value[f] = "1" if f in ("month", "day") else "0"
            else:
                value[f] = "*"
        dow = value["day_of_week"]
        if dow.isdigit():  # APScheduler counts from Monday = 0, cron from Sunday = 0
            dow = str((int(dow) + 1) % 7)
        line = f"{value['minute']} {value['hour']} {value['day']} {value['month']} {dow}"
        return line if value["second"] == "0" else f"{line} {value['second']}"
    raise ValueError(f"unsupported trigger {trigger!r}")


def _periodic(app: App, job_id: str, func: JobFunc, cron: str) -> None:
    name = f"veilleur.job.{job_id}"

    async def run(context: JobContext, timestamp: int) -> None:
        rt = runtime(context)
        key = f"job:{job_id}:{timestamp}"
        if not _claim_key(rt.engine, key, rt.clock.now()):
            log.info("periodic job %s for %s already started elsewhere", job_id, timestamp)
            return
        try:
            await func(rt.runtime, rt.clock)
        except BaseException:
            _drop_key(rt.engine, key)
            raise
        metrics.SCALEOUT_JOBS.labels(task=name, outcome="done").inc()

    task = app.task(
        name=name, queue=QUEUE_PERIODIC, lock=name, queueing_lock=name, pass_context=True
    )(run)
    app.periodic(cron=cron, periodic_id=job_id)(task)


def register(app: App, jobs: list[tuple[str, Any, dict[str, Any]]], reclaim_cron: str) -> None:
    """Every task a worker runs. `jobs`: `bot.periodic.JOBS(settings)`."""

    @app.task(name=TASK_DELIVERY, pass_context=True, retry=Retry())
    async def delivery(context: JobContext, guid: str) -> None:
        try:
            outcome = await process_delivery(runtime(context), guid)
        except DeliveryRetry:
            metrics.SCALEOUT_JOBS.labels(task=TASK_DELIVERY, outcome="retry").inc()
            raise
        metrics.SCALEOUT_JOBS.labels(task=TASK_DELIVERY, outcome=outcome).inc()

    for job_id, func, trigger in jobs:
        _periodic(app, job_id, func, cron_of(trigger))

    reclaim_name, orphans_name = "veilleur.queue.reclaim-stalled", "veilleur.queue.enqueue-orphans"

    # No `lock` here, only a queueing lock: a reclaim job running on a worker that dies would
    # keep its lock while "doing", and no later reclaim could run to free it (nor anything
    # else the dead worker held). Two reclaims at once are harmless: releasing a delivery is
    # a conditional update, and a job retried twice fails the second time, which is ignored.
    @app.periodic(cron=reclaim_cron, periodic_id="reclaim")
    @app.task(
        name=reclaim_name,
        queue=QUEUE_PERIODIC,
        queueing_lock=reclaim_name,
        pass_context=True,
    )
    async def reclaim(context: JobContext, timestamp: int) -> None:
        await reclaim_stalled(context)

    @app.periodic(cron="* * * * *", periodic_id="orphans")
    @app.task(
        name=orphans_name,
        queue=QUEUE_PERIODIC,
        lock=orphans_name,
        queueing_lock=orphans_name,
        pass_context=True,
    )
    async def orphans(context: JobContext, timestamp: int) -> None:
        await enqueue_orphans(context)
