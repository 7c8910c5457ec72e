"""The embedded worker: one thread with its own event loop, taking deliveries in order.

It runs beside the web app in `veilleur serve` (SQLite default). Blocking database work in
handlers stays off the web loop because this loop lives in its own thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.dispatch.dispatcher import Dispatcher
from bot.queue import deliveries

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

T = TypeVar("T")

# Builds the runtime inside the worker loop (where the HTTP connection pool lives) and
# returns it with an async cleanup callback (bot.app.make_runtime_factory).
RuntimeFactory = Callable[[], Awaitable[tuple["Runtime", Callable[[], Awaitable[None]]]]]


class EmbeddedWorker:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        make_runtime: RuntimeFactory,
        *,
        on_loop_start: Callable[[asyncio.AbstractEventLoop, Runtime], Any] | None = None,
        idle_poll_seconds: float = 1.0,
        on_delivery: Callable[[str | None], None] | None = None,
        pace: Callable[[float], float] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.make_runtime = make_runtime
        self.on_loop_start = on_loop_start
        self.idle_poll_seconds = idle_poll_seconds
        self.on_delivery = on_delivery  # told which delivery runs (None: idle); a supervisor
        # After a delivery that took `took` seconds, the seconds to wait before the next one
        # (IntakePacing under `veilleur serve`: webhooks come first).
        self.pace = pace
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self.ready = threading.Event()
        self.runtime: Runtime | None = None
        self._last_release = time.monotonic()

    @property
    def dispatcher(self) -> Dispatcher | None:
        return self.runtime.dispatcher if self.runtime is not None else None

    def start(self, timeout: float = 30.0) -> bool:
        """Start the loop's thread; whether it is ready within `timeout`. False when its
        runtime could not be built (the thread ended: its error is logged) or took longer."""
        released = deliveries.release_stale(self.engine, self.clock.now(), everything=True)
        if released:
            log.info("re-queued %d deliveries left in progress by a previous run", released)
        thread = self._thread = threading.Thread(
            target=self._thread_main, name="worker", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if not thread.is_alive() or time.monotonic() >= deadline:
                return False
        return True

    def wake(self) -> None:
        """Thread-safe nudge from intake: a delivery was stored."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def stop(self) -> None:
        self._stopping = True
        self.wake()
        if self._thread:
            self._thread.join(timeout=30)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the worker loop from another thread (CLI, tests, scheduler)."""
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def _thread_main(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            runtime, cleanup = await self.make_runtime()
        except Exception:
            log.exception("the worker cannot start: its runtime could not be built")
            return
        self.runtime = runtime
        dispatcher = runtime.dispatcher
        if self.on_loop_start:
            self.on_loop_start(self._loop, runtime)
        self.ready.set()
        try:
            while not self._stopping:
                # Clear before looking: a delivery stored while we look sets it again, so
                # the wait below never sleeps through a nudge.
                self._wake.clear()
                started = time.monotonic()
                try:
                    worked = await self.run_once(dispatcher)
                except Exception as exc:  # database unreachable: keep the thread, try again
                    log.error("worker cannot reach the database: %s", exc)
                    worked = False
                    await asyncio.sleep(self.idle_poll_seconds)
                if worked and self.pace is not None:
                    await asyncio.sleep(self.pace(time.monotonic() - started))
                if not worked:
                    self._release_stale()
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.idle_poll_seconds)
                    except TimeoutError:
                        pass
        finally:
            await cleanup()

    def _release_stale(self) -> None:
        """When idle, at most once a minute: deliveries left `processing` past their lease (a
        database outage while recording an outcome) go back to the queue."""
        now = time.monotonic()
        if now - self._last_release < 60:
            return
        self._last_release = now
        try:
            released = deliveries.release_stale(self.engine, self.clock.now())
        except Exception as exc:
            log.warning("could not release stale deliveries: %s", exc)
            return
        if released:
            log.info("re-queued %d deliveries whose lease had expired", released)

    async def run_once(self, dispatcher: Dispatcher) -> bool:
        paused = dispatcher.paused_installations()
        delivery = deliveries.claim_next(self.engine, self.clock.now(), paused)
        if delivery is None:
            return False
        if self.on_delivery is None:
            await dispatcher.run(delivery)
            return True
        self.on_delivery(delivery.guid)
        try:
            await dispatcher.run(delivery)
        finally:
            self.on_delivery(None)
        return True

    async def drain(self, dispatcher: Dispatcher, limit: int = 100_000) -> int:
        """Process every ready delivery now (tests, demo, CLI)."""
        n = 0
        while n < limit and await self.run_once(dispatcher):
            n += 1
        return n
