"""The FastAPI application and its lifespan: storage, intake writer, worker, scheduler.

`create_app()` wires everything from explicit arguments; nothing happens at import time.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp

from bot import prometheus as metrics
from bot.clock import Clock, SystemClock
from bot.intake.endpoint import build_router, webhook_first
from bot.intake.limits import UnverifiedBudget
from bot.intake.refusals import REFUSING_ALL, RefusalLog
from bot.intake.writer import DeliveryWriter, InTransaction
from bot.intake.writer_process import ProcessWriter
from bot.queue import deliveries
from bot.queue.worker import EmbeddedWorker
from bot.queue.worker_process import WorkerProcess
from bot.runtime import Runtime, ServicesFactory, make_runtime_factory
from bot.services import Services
from bot.settings import Settings, SettingsError
from bot.storage.db import make_engine, sqlite_file, sqlite_writable
from bot.web import build_web_router

log = logging.getLogger(__name__)

LoopHook = Callable[[asyncio.AbstractEventLoop, Runtime], Any]


def default_services(settings: Settings, engine: Engine, clock: Clock) -> Services:
    from bot.runtime import build_services

    return build_services(settings, engine, clock)


def metrics_allowed(settings: Settings, authorization: str | None) -> bool:
    """With VEILLEUR_METRICS_TOKEN set, /metrics asks for `Authorization: Bearer <token>`."""
    if settings.metrics_token is None:
        return True
    expected = b"Bearer " + settings.metrics_token.get_secret_value().encode()
    return hmac.compare_digest(expected, (authorization or "").encode("latin-1", "replace"))


class VeilleurApp(FastAPI):
    """FastAPI, with the webhook route served ahead of the middleware stack (webhook_first)."""

    def build_middleware_stack(self) -> ASGIApp:
        return webhook_first(super().build_middleware_stack())


def use_writer_process(settings: Settings, in_transaction: InTransaction | None) -> bool:
    """Whether deliveries are committed by a writer process (see bot/intake/writer_process.py)."""
    mode = settings.intake_writer
    on_file = sqlite_file(settings.database_url) is not None
    if mode == "auto":
        return on_file and in_transaction is None
    if mode == "process" and in_transaction is not None:
        raise SettingsError(
            "VEILLEUR_INTAKE_WRITER=process cannot enqueue the scale-out queue's jobs; use thread."
        )
    if mode == "process" and not on_file and not settings.is_postgres:
        raise SettingsError(
            "VEILLEUR_INTAKE_WRITER=process needs a database file, not an in-memory SQLite."
        )
    return mode == "process"


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    run_worker: bool = True,
    migrate: bool = True,
    services: ServicesFactory = default_services,
    on_worker_loop: LoopHook | None = None,
    in_transaction: InTransaction | None = None,
    worker_process: bool = False,
) -> FastAPI:
    """`in_transaction`: scale-out web replicas enqueue a job with each stored delivery.
    `worker_process` (what `veilleur serve` uses): the worker and scheduler run in a process of
    their own (bot/queue/worker_process.py), so no handler can stall the web process; otherwise in a
    thread of this one (tests and the demo drive it directly, on their movable clock)."""
    clock = clock or SystemClock()
    in_process_writer = use_writer_process(settings, in_transaction)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not app.state.secrets:
            log.warning("%s; /readyz answers 503 until then.", REFUSING_ALL)
        engine = make_engine(settings.database_url)
        if migrate:
            from bot.storage.migrate import upgrade

            await asyncio.to_thread(upgrade, settings.database_url)
        worker: EmbeddedWorker | None = None
        supervised: WorkerProcess | None = None
        if run_worker and worker_process:
            supervised = WorkerProcess(settings, engine, services)
        elif run_worker:
            from bot.periodic import start_scheduler

            def loop_start(loop: asyncio.AbstractEventLoop, runtime: Runtime) -> None:
                app.state.runtime = runtime  # what the dashboard asks (the App's login)
                app.state.scheduler = start_scheduler(settings, engine, clock, runtime)
                if on_worker_loop:
                    on_worker_loop(loop, runtime)

            worker = EmbeddedWorker(
                engine,
                clock,
                make_runtime_factory(settings, engine, clock, services),
                on_loop_start=loop_start,
            )
        on_stored = worker.wake if worker else supervised.wake if supervised else None
        writer: DeliveryWriter | ProcessWriter
        if in_process_writer:
            log_spec = f"{settings.log_level}:{settings.log_format}"
            writer = ProcessWriter(settings.database_url, on_stored, log_spec)
            await writer.start()
        else:
            writer = DeliveryWriter(engine, on_stored=on_stored, in_transaction=in_transaction)
            writer.start()
        # Move the startup heap (modules, models, settings, engines: ~120k objects) out of the
        # collector's sight. Under load, objects of requests in flight reach the oldest
        # generation and trigger a full collection every second or so; over the whole heap
        # each one stopped the event loop for ~90 ms (p99 over 100 ms).
        gc.collect()
        gc.freeze()
        app.state.engine = engine
        app.state.writer = writer
        app.state.worker = worker
        app.state.worker_process = supervised
        app.state.scheduler = None
        app.state.runtime = None  # set on the worker loop, once built
        try:
            if worker and not await asyncio.to_thread(worker.start):
                raise RuntimeError("the worker did not start (the reason is logged above)")
            if supervised:
                await supervised.start()
            yield
        finally:
            if supervised:
                await supervised.stop()
            if worker:
                scheduler = app.state.scheduler
                if scheduler is not None:  # stop it on its own loop, before that loop ends

                    async def _stop_scheduler() -> None:
                        scheduler.shutdown(wait=False)

                    try:
                        await asyncio.to_thread(worker.call, _stop_scheduler(), 10)
                    except TimeoutError:  # a handler holds the loop; the thread is a daemon
                        log.warning("the worker loop is busy; scheduler left to stop with it")
                    app.state.scheduler = None
                await asyncio.to_thread(worker.stop)
            if isinstance(writer, ProcessWriter):
                await writer.stop()
            else:
                writer.stop()
            gc.unfreeze()  # an app stopped in a longer process (tests) can be freed
            engine.dispose()

    # No /docs nor /redoc: their scripts come from a CDN, which city networks often filter;
    # the OpenAPI description itself is served at /openapi.json (see README).
    app = VeilleurApp(
        title="Veilleur", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.secrets = settings.webhook_secrets()
    app.state.refusals = RefusalLog()
    app.state.unverified = UnverifiedBudget(int(settings.unverified_memory_mb * 1024 * 1024))
    app.include_router(build_router())
    from bot.gitlab.settings import load_gitlab_settings, web_links
    from bot.gitlab.webhook import GitLabIntake, build_gitlab_router

    # VEILLEUR_GITLAB_*: unset, GitLab webhooks are refused and nobody signs in with GitLab
    app.state.gitlab_settings = gitlab = load_gitlab_settings()
    app.state.gitlab = GitLabIntake.of(gitlab)
    app.state.links = web_links(settings.github_web_url, gitlab)  # the dashboard's links
    app.include_router(build_gitlab_router())
    app.include_router(build_web_router(settings))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response("ok\n", media_type="text/plain")

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        engine: Engine = request.app.state.engine

        def ping() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        if not request.app.state.secrets:  # up, but every webhook would be refused
            return Response(
                f"not ready: {REFUSING_ALL}\n", status_code=503, media_type="text/plain"
            )
        try:
            await asyncio.to_thread(ping)
        except Exception:
            return Response("database unavailable\n", status_code=503, media_type="text/plain")
        if not await asyncio.to_thread(sqlite_writable, settings.database_url):
            return Response("database locked\n", status_code=503, media_type="text/plain")
        return Response("ready\n", media_type="text/plain")

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        if not metrics_allowed(settings, request.headers.get("authorization")):
            return Response(
                "a bearer token is required\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": "Bearer"},
            )
        engine: Engine = request.app.state.engine
        try:
            st = await asyncio.to_thread(deliveries.stats, engine, clock.now())
            metrics.QUEUE_DEPTH.set(st.depth)
            metrics.QUEUE_OLDEST_AGE.set(st.oldest_age_seconds)
            for status in ("received", "processing", "done", "failed", "dead", "ignored"):
                metrics.DELIVERIES_BY_STATUS.labels(status=status).set(st.by_status.get(status, 0))
        except Exception as exc:
            log.warning("queue gauges unavailable: %s", exc)
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return app
