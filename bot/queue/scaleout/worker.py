"""`veilleur worker`: a procrastinate worker process running Veilleur's jobs (PostgreSQL).

Run as many as needed, on any machines sharing the database. Each process keeps one GitHub
connection pool and one dispatcher, runs up to `--concurrency` jobs at once (never two of
one item), sends a heartbeat every `--heartbeat` seconds, and takes part in the periodic
jobs (each deferred once per period whatever the number of workers).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 4
    name: str | None = None
    heartbeat: float = 10.0
    stalled_after: float = 30.0
    reclaim_every: int = 15
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


def reclaim_cron(seconds: int) -> str:
    seconds = max(1, min(seconds, 59))
    return f"* * * * * */{seconds}"


async def _refresh_gauges(engine: Engine, clock: Clock, every: float = 10.0) -> None:
    from bot import prometheus as metrics
    from bot.queue import deliveries

    while True:
        try:
            st = await asyncio.to_thread(deliveries.stats, engine, clock.now())
            metrics.QUEUE_DEPTH.set(st.depth)
            metrics.QUEUE_OLDEST_AGE.set(st.oldest_age_seconds)
        except Exception as exc:
            log.warning("queue gauges unavailable: %s", exc)
        await asyncio.sleep(every)


async def run(settings: Settings, opts: WorkerOptions) -> None:
    from bot import periodic as jobs
    from bot import prometheus as metrics
    from bot.clock import SystemClock
    from bot.queue.scaleout.queue import make_app
    from bot.queue.scaleout.tasks import Runtime, register
    from bot.runtime import make_runtime_factory
    from bot.storage.db import make_engine

    engine = make_engine(settings.database_url, pool_size=opts.concurrency + 2)
    clock = SystemClock()
    factory = make_runtime_factory(settings, engine, clock)
    runtime, close = await factory()
    app = make_app(settings.database_url, min_size=2, max_size=opts.concurrency + 4)
    register(app, jobs.JOBS(settings), reclaim_cron(opts.reclaim_every))
    rt = Runtime(settings, engine, clock, runtime, stalled_after=opts.stalled_after)
    side: asyncio.Task[None] | None = None
    if opts.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(opts.metrics_port, opts.metrics_host, registry=metrics.REGISTRY)
        side = asyncio.create_task(_refresh_gauges(engine, clock))
    try:
        async with app.open_async():
            await app.run_worker_async(
                concurrency=opts.concurrency,
                name=opts.name or "worker",
                additional_context={"veilleur": rt},
                update_heartbeat_interval=opts.heartbeat,
                stalled_worker_timeout=opts.stalled_after,
                delete_jobs="successful",
                shutdown_graceful_timeout=30,
                install_signal_handlers=True,
            )
    finally:
        if side is not None:
            side.cancel()
        await close()
        engine.dispose()


def cmd_worker(args: argparse.Namespace) -> int:
    from bot import logs
    from bot.queue.scaleout.queue import apply_schema
    from bot.settings import settings_from

    settings = settings_from(args)
    if not settings.is_postgres:
        raise SettingsError(
            "VEILLEUR_DATABASE_URL must be a PostgreSQL URL for `veilleur worker`; with SQLite, "
            "`veilleur serve` runs the embedded worker."
        )
    settings.require_app()
    logs.configure(settings.log_level, settings.log_format)
    apply_schema(settings.database_url, alembic=True)  # workers often start together
    opts = WorkerOptions(
        concurrency=args.concurrency,
        name=args.name,
        heartbeat=args.heartbeat,
        stalled_after=args.stalled_after,
        reclaim_every=args.reclaim_every,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
    )
    if opts.stalled_after <= 2 * opts.heartbeat:
        raise SettingsError("--stalled-after must be more than twice --heartbeat.")
    asyncio.run(run(settings, opts))
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser(
        "worker", help="run queue workers (PostgreSQL scale-out; web: `serve --no-worker`)"
    )
    w.add_argument("--concurrency", type=int, default=4, help="jobs at once in this process")
    w.add_argument("--name", help="worker name shown in logs")
    w.add_argument("--heartbeat", type=float, default=10.0, help="seconds between heartbeats")
    w.add_argument(
        "--stalled-after",
        type=float,
        default=30.0,
        help="seconds without heartbeat after which a worker's jobs are taken over",
    )
    w.add_argument(
        "--reclaim-every", type=int, default=15, help="seconds between stalled-job checks"
    )
    w.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    w.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of /metrics (default 127.0.0.1)"
    )
    w.set_defaults(func=cmd_worker)
