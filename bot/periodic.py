"""Periodic jobs, as one explicit list, and the APScheduler that runs them on the worker loop.

Each job is safe to run twice (restart, several processes): its effects are keyed. Jobs take
the `Runtime` (bot/runtime.py) and a clock.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.settings import Settings

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.runtime import Runtime

log = logging.getLogger(__name__)


def links_of(runtime: Runtime) -> Any:
    """The runtime's links to either forge (`services["links"]`), else GitHub's alone."""
    from bot.forge.links import WebLinks

    return runtime.services.get("links") or WebLinks.of(runtime.settings.github_web_url)


def sweeper_for(runtime: Runtime, *, dry_run: bool = False) -> Any:
    from bot.sla.sweep import Sweeper

    return Sweeper(
        engine=runtime.engine,
        services=runtime.services,
        api_for=runtime.api_for,
        bot_login=runtime.bot_login,
        mailer=runtime.mailer,
        dry_run=runtime.settings.dry_run or dry_run,
        links=links_of(runtime),
    )


async def sla_sweep(runtime: Runtime, clock: Clock) -> None:
    result = await sweeper_for(runtime).run(clock.now())
    if result.actions:
        log.info("SLA sweep: %d actions", len(result.actions))


async def reconcile_record(runtime: Runtime, clock: Clock) -> None:
    """At start and hourly: installations and repositories as GitHub lists them."""
    from bot.record.reconcile import reconcile

    forges = runtime.services.get("forges")
    if forges is not None:  # GitLab projects (bot/gitlab/projects.py)
        try:
            await forges.sync()
        except Exception as exc:
            log.warning("could not list the GitLab projects: %r", exc)
    if runtime.app_client is None:
        return
    try:
        await reconcile(runtime.app_client, runtime.api_for, runtime.engine, clock)
    except Exception as exc:  # GitHub unreachable: the next run tries again
        log.warning("could not reconcile the record with GitHub: %r", exc)


async def redelivery_check(runtime: Runtime, clock: Clock) -> None:
    """Ask GitHub to send again the deliveries of the last 24 h that never reached us."""
    from bot.intake.recovery import recover

    if runtime.app_client is None:
        return
    await recover(runtime.app_client, runtime.engine, clock.now(), dry_run=runtime.settings.dry_run)


async def gitlab_redelivery_check(runtime: Runtime, clock: Clock) -> None:
    """Ask GitLab to resend the failed deliveries of the last 3 days that never reached us."""
    from bot.gitlab.recovery import recover

    forges = runtime.services.get("forges")
    if forges is None:
        return
    await recover(forges, runtime.engine, clock.now(), dry_run=runtime.settings.dry_run)


async def backfill_refresh(runtime: Runtime, clock: Clock) -> None:
    """Nightly: resume unfinished history imports, then import what changed since the last."""
    from bot.backfill.tasks import nightly_refresh

    await nightly_refresh(runtime, clock)


def publisher_for(runtime: Runtime) -> Any:
    from bot.digest.publish import DigestPublisher

    return DigestPublisher(
        engine=runtime.engine,
        services=runtime.services,
        api_for=runtime.api_for,
        bot_login=runtime.bot_login,
        mailer=runtime.mailer,
        dry_run=runtime.settings.dry_run,
        links=links_of(runtime),
    )


async def digest_publication(runtime: Runtime, clock: Clock) -> None:
    """Hourly: publish each org's weekly digest once its schedule has passed (exactly once
    per org and week: see bot/digest/publish.py)."""
    result = await publisher_for(runtime).run(clock.now())
    if result.published:
        log.info("digests published: %s", ", ".join(result.published))


async def privacy_purge(runtime: Runtime, clock: Clock) -> None:
    """Daily: the retention rules (bot/privacy/retention.py)."""
    import asyncio

    from bot.privacy.retention import purge

    settings = runtime.settings
    await asyncio.to_thread(
        purge,
        runtime.engine,
        clock.now(),
        payload_days=settings.payload_retention_days,
        person_days=settings.person_retention_days,
    )


def JOBS(settings: Settings) -> list[tuple[str, Any, dict[str, Any]]]:  # noqa: N802
    from datetime import UTC, datetime

    at_start = {"next_run_time": datetime.now(UTC)}  # APScheduler: run once at start too
    every_10_min = {"trigger": "interval", "minutes": 10}
    return [
        ("reconcile", reconcile_record, {"trigger": "interval", "hours": 1} | at_start),
        ("sla-sweep", sla_sweep, {"trigger": "interval", "minutes": settings.sweep_minutes}),
        ("redelivery-check", redelivery_check, {"trigger": "interval", "minutes": 10}),
        ("gitlab-redelivery-check", gitlab_redelivery_check, every_10_min),
        ("backfill-refresh", backfill_refresh, {"trigger": "cron", "hour": 2, "minute": 30}),
        ("digest-publication", digest_publication, {"trigger": "cron", "minute": 7}),
        ("privacy-purge", privacy_purge, {"trigger": "cron", "hour": 3, "minute": 45}),
    ]


def scheduled_jobs(settings: Settings) -> list[tuple[str, Any, dict[str, Any]]]:
    """(id, coroutine function taking (runtime, clock), trigger kwargs)."""
    return JOBS(settings)


def start_scheduler(
    settings: Settings, engine: Engine, clock: Clock, runtime: Runtime
) -> AsyncIOScheduler:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(timezone="UTC")
    for job_id, func, trigger in scheduled_jobs(settings):
        scheduler.add_job(
            func,
            id=job_id,
            args=[runtime, clock],
            max_instances=1,
            coalesce=True,
            replace_existing=True,
            **trigger,
        )
    scheduler.start()
    return scheduler
