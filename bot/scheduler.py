"""APScheduler on the worker loop: periodic jobs (SLA sweep, digests, refresh, redelivery).

Each job is idempotent by its own keys, so a job that runs twice (restart, several
processes) never acts twice.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.settings import Settings

log = logging.getLogger(__name__)


def scheduled_jobs(settings: Settings) -> list[tuple[str, Any, dict[str, Any]]]:
    """(id, coroutine function taking (dispatcher, clock), trigger kwargs)."""
    from bot import jobs

    return jobs.JOBS(settings)


def start_scheduler(
    settings: Settings, engine: Engine, clock: Clock, dispatcher: Any
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job_id, func, trigger in scheduled_jobs(settings):
        scheduler.add_job(
            func,
            id=job_id,
            args=[dispatcher, clock],
            max_instances=1,
            coalesce=True,
            replace_existing=True,
            **trigger,
        )
    scheduler.start()
    return scheduler
