"""The embedded worker and scheduler in a process of their own, supervised by `veilleur serve`.

Handler work reads text written by strangers; whatever it does (a parser that backtracks, a
loop), the web process keeps verifying, storing and serving pages, because it only stores
deliveries and nudges this process. A delivery that runs past
`VEILLEUR_HANDLER_TIME_LIMIT_SECONDS` cannot be interrupted from inside Python (a regex holds
the GIL), so the supervisor kills the worker process, records the delivery as failed with the
reason (retried with backoff, dead after `VEILLEUR_MAX_ATTEMPTS`) and starts a new worker.
On shutdown the worker gets SIGTERM: the running delivery may finish within
`VEILLEUR_SHUTDOWN_GRACE_SECONDS`, then the process is killed.

The worker is forked from the web process (after `gc.freeze()` in the app's lifespan), not
spawned: both need the same ~90 MB of modules (SQLAlchemy, pydantic, githubkit, the
handlers), and a fork shares those pages instead of loading a second copy. The child uses
none of the parent's objects: it first drops what it must not hold (the parent's ends of its
pipes, the event loop's signal wake-up socket), then builds its own
engine, loop and scheduler (see `worker_main`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized, SynchronizedString
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import heap
from bot import prometheus as metrics
from bot.queue import deliveries
from bot.settings import Settings
from bot.storage.models import Delivery, DeliveryStatus

log = logging.getLogger(__name__)

_GUID_BYTES = 80  # X-GitHub-Delivery is at most 64 characters (bot/intake/endpoint.py)
# Fork shares the imported modules' pages with the web process (see above); where there is no
# fork, a fresh interpreter.
_CAN_FORK = "fork" in multiprocessing.get_all_start_methods()
# The worker runs at a lower CPU priority than the web and writer processes: when the cores
# are short, accepting webhooks (GitHub gives up after 10 s) comes before draining the
# backlog, which only waits. On Linux it is a SCHED_IDLE process: a web or writer process
# that wakes up takes its core at once, which a low niceness alone does not promise. Intake
# while the worker drained (bench/drain.py, interleaved runs; README, Benchmarks): 0.80-0.89
# of `--no-worker` at niceness +10, 0.87-0.93 at +19, 0.91 and 0.95 as SCHED_IDLE (p99 13-16 ms
# against 16-24), the worker draining at 14-19 deliveries/s instead of 18-19. Elsewhere, and
# where SCHED_IDLE is refused, the niceness alone.
WORKER_NICENESS = 19
# While webhooks are arriving (the web process nudged within INTAKE_BUSY_SECONDS), the worker
# waits after each delivery as long as that delivery took (at most MAX_PACE_SECONDS): it uses
# at most half the time it could, and fewer of its commits hold the database while the intake
# writer waits for it. bench/drain.py, paced and not, interleaved (README, Benchmarks): intake
# 0.90-0.98 of `--no-worker` in five invocations against 0.88-0.93 in four, the intake writer
# waiting for the write lock 0.55-0.69 s of 15 against 0.83-1.09, p99 13.0-17.2 ms against
# 16.0-17.6; the worker drained 9-10.5 deliveries/s during the burst against 9-18, and at full
# speed once it is over.
INTAKE_BUSY_SECONDS = 0.1
MAX_PACE_SECONDS = 1.0
# A worker that could not start, or ended, is started again after a pause that doubles while
# each one fails within STABLE_SECONDS of its start (1, 2, 4... s, at most MAX_PAUSE_SECONDS):
# a database or a configuration broken for an hour costs a few dozen attempts and log lines,
# not several a second.
STABLE_SECONDS = 60.0
MAX_PAUSE_SECONDS = 60.0
# A new worker has as long as a handler to become ready (`start_limit`), and at least
# MIN_START_SECONDS: building its runtime took 0.9 s on an idle 2-core machine, and a handler
# limit of a few seconds must not have a loaded host kill every worker before it is ready.
MIN_START_SECONDS = 30.0
# Beyond the worker's own limit to become ready, before the supervisor kills it.
READY_MARGIN_SECONDS = 5.0


def start_limit(settings: Settings) -> float:
    """Seconds a new worker has to become ready."""
    return max(settings.handler_time_limit_seconds, MIN_START_SECONDS)


class IntakePacing:
    """The worker's pause after a delivery: as long as it took while intake is busy, else none.
    `seen()` is called on each nudge from the web process (a delivery was stored)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_seen = -INTAKE_BUSY_SECONDS

    def seen(self) -> None:
        self.last_seen = self.clock()

    def __call__(self, took: float) -> float:
        if self.clock() - self.last_seen >= INTAKE_BUSY_SECONDS:
            return 0.0
        return min(took, MAX_PACE_SECONDS)


class WorkerProcess:
    """Starts, watches, restarts and stops the worker process (from the web process's loop)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        services: Any,
        *,
        check_seconds: float = 0.2,
    ) -> None:
        self.settings = settings
        self.engine = engine  # the web process's, to record a killed delivery as failed
        self.services = services  # a picklable factory: (settings, engine, clock) -> dict
        self.check_seconds = check_seconds
        self._ctx = (
            multiprocessing.get_context("fork")
            if _CAN_FORK
            else multiprocessing.get_context("spawn")
        )
        # What the worker is doing, written by the worker, read by the supervisor.
        self.current: SynchronizedString = self._ctx.Array("c", _GUID_BYTES)  # type: ignore[assignment]
        self.started: Synchronized[float] = self._ctx.Value("d", 0.0)
        self._nudged: Synchronized[int] = self._ctx.Value("b", 0)
        self._proc: BaseProcess | None = None
        self._wake: Connection | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0
        self._spawned_at = 0.0
        self._became_ready = False
        self._quick_failures = 0

    # -- web process side ---------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self._spawn)
        self._watch = asyncio.create_task(self._supervise(), name="worker-supervisor")

    def wake(self) -> None:
        """A delivery was stored: one byte on the pipe, unless a nudge is already pending."""
        wake = self._wake
        if wake is None or self._nudged.value:
            return
        self._nudged.value = 1
        with contextlib.suppress(OSError):
            wake.send_bytes(b"w")

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await asyncio.to_thread(self._terminate, self.settings.shutdown_grace_seconds)

    def _spawn(self) -> None:
        wake_r, wake_w = self._ctx.Pipe(duplex=False)
        ready_r, ready_w = self._ctx.Pipe(duplex=False)
        self.current.value = b""
        self._nudged.value = 0
        proc = self._ctx.Process(
            target=worker_main,
            args=(
                self.settings,
                self.services,
                wake_r,
                ready_w,
                self.current,
                self.started,
                self._nudged,
            ),
            kwargs={"parent_ends": (wake_w, ready_r)},
            name="veilleur-worker",
            daemon=True,
        )
        for stream in (sys.stdout, sys.stderr):  # else a fork writes the buffered text twice
            with contextlib.suppress(Exception):
                stream.flush()
        if self._ctx.get_start_method() == "fork":
            heap.before_fork()
        proc.start()
        self._spawned_at = time.monotonic()
        wake_r.close()  # the worker sees EOF, and exits, when this process is gone
        ready_w.close()
        self._proc, self._wake = proc, wake_w
        limit = start_limit(self.settings) + READY_MARGIN_SECONDS
        self._became_ready = False
        if ready_r.poll(limit):
            with contextlib.suppress(EOFError):  # EOF: it ended before it was ready
                self._became_ready = ready_r.recv_bytes() == b"ready"
        ready_r.close()
        if not self._became_ready:
            if proc.is_alive():  # whatever it waits for: the supervisor starts another
                log.error("the worker process did not start within %g s; stopped", limit)
                proc.kill()
            proc.join(10)
            return
        self.wake()  # deliveries stored while it started

    def _terminate(self, grace: float) -> None:
        proc, wake = self._proc, self._wake
        self._wake = None
        if proc is None:
            return
        if proc.is_alive() and proc.pid is not None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.join(grace + 5)  # its own grace, then a margin to stop its scheduler and pool
        if proc.is_alive():
            log.warning("the worker process did not stop within the grace period; killed")
            proc.kill()
            proc.join(5)
        if wake is not None:
            wake.close()

    async def _supervise(self) -> None:
        limit = self.settings.handler_time_limit_seconds
        while not self._stopping:
            await asyncio.sleep(self.check_seconds)
            proc = self._proc
            guid = self.current.value.decode("ascii", "replace")
            if guid and time.monotonic() - self.started.value > limit:
                await asyncio.to_thread(self._kill_overrun, guid, limit)
            elif proc is not None and not proc.is_alive() and not self._stopping:
                pause = self._pause()
                reason = "exited" if self._became_ready else "not_started"
                log.error(
                    "the worker process ended (%s, code %s); starting another in %g s",
                    reason,
                    proc.exitcode,
                    pause,
                )
                await asyncio.sleep(pause)
                if not self._stopping:
                    await asyncio.to_thread(self._restart, reason)

    def _pause(self) -> float:
        """Seconds to wait before starting another worker: doubling while they fail early."""
        lived = time.monotonic() - self._spawned_at
        self._quick_failures = self._quick_failures + 1 if lived < STABLE_SECONDS else 1
        return float(min(MAX_PAUSE_SECONDS, 2 ** (self._quick_failures - 1)))

    def _kill_overrun(self, guid: str, limit: float) -> None:
        proc = self._proc
        if proc is not None:
            proc.kill()
            proc.join(10)
        reason = f"stopped: ran past the time limit of {limit:g} s (worker process killed)"
        with Session(self.engine) as s:
            row = s.get(Delivery, guid)
            running = row is not None and row.status == DeliveryStatus.PROCESSING
        if running:
            status = deliveries.fail(
                self.engine,
                guid,
                _now(),
                reason,
                max_attempts=self.settings.max_attempts,
                base_seconds=self.settings.retry_base_seconds,
            )
            log.error("delivery %s %s: %s", guid, status, reason)
        self._restart("overrun")

    def _restart(self, reason: str) -> None:
        if self._wake is not None:
            self._wake.close()
        self.restarts += 1
        metrics.WORKER_RESTARTS.labels(reason=reason).inc()
        self._spawn()


def _now() -> Any:
    from bot.clock import SystemClock

    return SystemClock().now()


# -- worker process side ----------------------------------------------------------------------
def worker_main(
    settings: Settings,
    services: Any,
    wake: Connection,
    ready: Connection,
    current: SynchronizedString,
    started: Synchronized[float],
    nudged: Synchronized[int],
    parent_ends: tuple[Connection, ...] = (),
) -> None:
    """The worker process: the embedded worker and the scheduler, on a loop of their own."""
    for end in parent_ends:  # forked: holding the web process's ends, it would never see EOF
        end.close()
    with contextlib.suppress(ValueError):  # forked: signals must not wake the parent's loop
        signal.set_wakeup_fd(-1)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    with contextlib.suppress(OSError, AttributeError):  # Linux only; inherited by its threads
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    from bot import logs
    from bot.clock import SystemClock
    from bot.periodic import start_scheduler
    from bot.queue.worker import EmbeddedWorker
    from bot.runtime import make_runtime_factory
    from bot.storage.db import make_engine

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the web process, which stops us
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logs.configure(settings.log_level, settings.log_format)
    engine = make_engine(settings.database_url)
    clock = SystemClock()
    schedulers: list[Any] = []
    pacing = IntakePacing()

    def running(guid: str | None) -> None:
        started.value = time.monotonic()
        current.value = (guid or "").encode("ascii", "replace")[: _GUID_BYTES - 1]

    worker = EmbeddedWorker(
        engine,
        clock,
        make_runtime_factory(settings, engine, clock, services),
        on_loop_start=lambda _loop, runtime: schedulers.append(
            start_scheduler(settings, engine, clock, runtime)
        ),
        on_delivery=running,
        pace=pacing,
    )
    limit = start_limit(settings)
    if not worker.start(timeout=limit):
        # Alive but idle, it would leave every delivery waiting: the supervisor starts another.
        log.error("the worker did not start within %g s", limit)
        logging.shutdown()
        os._exit(1)
    ready.send_bytes(b"ready")
    ready.close()
    heap.after_start()

    def nudges() -> None:
        while True:
            try:
                wake.recv_bytes()
            except (EOFError, OSError):  # the web process is gone (even SIGKILL): so are we
                os._exit(0)
            nudged.value = 0
            pacing.seen()
            worker.wake()

    threading.Thread(target=nudges, name="nudges", daemon=True).start()
    stop.wait()

    async def stop_scheduler() -> None:
        for scheduler in schedulers:
            scheduler.shutdown(wait=False)

    grace = settings.shutdown_grace_seconds
    with contextlib.suppress(Exception):  # a loop busy past the grace period: killed anyway
        worker.call(stop_scheduler(), grace)
    worker.stop()
    engine.dispose()
    # Forked from one of the web process's executor threads, this process would have Python's
    # exit join that thread (itself): RuntimeError, exit code 1. Everything is stopped.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)
