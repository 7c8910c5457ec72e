"""Running history imports inside Veilleur: beside the delivery queue, one at a time per
organization, and the nightly incremental refresh.

An import can take long (thousands of items, a rate-limit reset to sleep through), so the
`backfill` handler does not run it inside the delivery: it starts it as a task on the worker
loop (`BackfillTasks`, kept in the services) and returns. A failed or interrupted import keeps
its cursors; the nightly refresh resumes it, then keeps every installed repository current
from its watermark (idempotent: the same facts add nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, func, select

from bot.backfill.run import Backfill, Stats
from bot.clock import Clock
from bot.storage.models import Installation

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.services import Services


log = logging.getLogger(__name__)
SERVICE = "backfill_tasks"


class BackfillTasks:
    """Imports running in the background of one process, one organization at a time."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self.results: list[Stats | BaseException] = []

    def lock(self, org: str) -> asyncio.Lock:
        return self._locks.setdefault(org.lower(), asyncio.Lock())

    def start(self, org: str, run: Callable[[], Awaitable[Stats]]) -> asyncio.Task[Any]:
        async def guarded() -> Stats:
            async with self.lock(org):
                return await run()

        task = asyncio.get_running_loop().create_task(guarded(), name=f"backfill:{org}")
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error(
                "history import %s stopped: %r (the nightly refresh resumes it)",
                task.get_name(),
                exc,
            )
            self.results.append(exc)
        else:
            stats = task.result()
            log.info("history import %s: %s", task.get_name(), stats)
            self.results.append(stats)

    async def wait(self) -> None:
        """Until every started import ended (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


def tasks_of(services: Services) -> BackfillTasks:
    found = services.get("backfill_tasks")
    if not isinstance(found, BackfillTasks):
        found = services["backfill_tasks"] = BackfillTasks()
    return found


async def nightly_refresh(runtime: Runtime, clock: Clock) -> None:
    """Every active installation: resume unfinished imports, then import what changed since
    the last complete one (by `updatedAt`)."""
    with Session(runtime.engine) as s:
        installs = s.exec(
            select(Installation).where(
                Installation.deleted_at.is_(None),  # type: ignore[union-attr]
                Installation.suspended_at.is_(None),  # type: ignore[union-attr]
            )
        ).all()
    tasks = tasks_of(runtime.services)
    for inst in installs:
        api = runtime.api_for(inst.id)
        if api is None:
            continue
        backfill = Backfill(api, runtime.engine, clock, services=runtime.services)
        try:
            async with tasks.lock(inst.account_login):
                stats = await backfill.run_org(inst.account_login, installation_id=inst.id)
            log.info("nightly refresh of %s: %s", inst.account_login, stats)
        except Exception as exc:  # the next night resumes from the cursors
            log.error("nightly refresh of %s failed: %r", inst.account_login, exc)


async def installation_of(runtime: Runtime, org: str) -> int:
    """The App's installation on `org`: from the record, else from GitHub."""
    with Session(runtime.engine) as s:
        found = s.exec(
            select(Installation.id).where(
                func.lower(Installation.account_login) == org.lower(),
                Installation.deleted_at.is_(None),  # type: ignore[union-attr]
            )
        ).first()
    if found is not None:
        return int(found)
    from bot.github.client import app_installations

    if runtime.app_client is not None:
        for inst in await app_installations(runtime.app_client):
            if str((inst.get("account") or {}).get("login", "")).lower() == org.lower():
                return int(inst["id"])
    raise SystemExit(f"veilleur: the App is not installed on {org}")
