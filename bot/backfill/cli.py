"""`veilleur backfill --org ORG [--since DATE]` on GitHub (registered by bot/cli/backfill.py):
import an organization's history, with a progress bar (items, items/s, ETA) per repository."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bot.backfill.run import Backfill, Options
from bot.backfill.stats import Stats
from bot.backfill.stats import summary as stats_summary


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} items/s" if speed else "– items/s", style="progress.data.speed")


class RichProgress:
    """The `Progress` of `bot.backfill.run`, drawn with rich."""

    def __init__(self, console: Console | None = None) -> None:
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.ids: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.bar.stop()

    def start(self, repo: str, total: int, done: int) -> None:
        self.ids[repo] = self.bar.add_task(repo, total=max(total, done), completed=done)

    def _task(self, repo: str) -> Task | None:
        wanted = self.ids.get(repo)
        return next((t for t in self.bar.tasks if t.id == wanted), None)

    def advance(self, repo: str, items: int) -> None:
        task = self._task(repo)
        if task is not None:
            if task.total is not None and task.completed + items > task.total:
                self.bar.update(task.id, total=task.completed + items)  # new items meanwhile
            self.bar.advance(task.id, items)

    def finish(self, repo: str) -> None:
        task = self._task(repo)
        if task is not None:  # pull requests newest first stop early: the bar ends full
            self.bar.update(task.id, total=task.completed)


def parse_since(value: str | None) -> datetime | None:
    """`2024-01-31` (midnight UTC) or an ISO-8601 instant (UTC when no zone is given)."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"veilleur: --since {value!r} is not a date (e.g. 2024-01-31)") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def summary(stats: Stats, seconds: float) -> str:
    return stats_summary(
        stats,
        seconds,
        f"{stats.repos} repositories, {stats.items} items ({stats.items_new} new, "
        f"{stats.entries_new} new timeline entries), {stats.requests} GraphQL requests",
    )


def cmd_backfill(args: argparse.Namespace) -> int:
    import time

    from bot.backfill.tasks import installation_of, tasks_of
    from bot.clock import SystemClock
    from bot.runtime import open_runtime
    from bot.settings import settings_from
    from bot.storage.migrate import upgrade

    settings = settings_from(args)
    settings.require_app()
    upgrade(settings.database_url)
    options = Options(since=parse_since(args.since), restart=args.restart, page_size=args.page_size)
    console = Console(stderr=True)

    async def run() -> Stats:
        runtime, close = await open_runtime(settings, SystemClock())
        try:
            inst_id = await installation_of(runtime, args.org)
            api = runtime.api_for(inst_id)
            with RichProgress(console) as progress:
                backfill = Backfill(
                    api, runtime.engine, runtime.clock, services=runtime.services,
                    options=options, progress=progress,
                )  # fmt: skip
                async with tasks_of(runtime.services).lock(args.org):
                    return await backfill.run_org(args.org, installation_id=inst_id)
        finally:
            await close()

    started = time.perf_counter()
    stats = asyncio.run(run())
    print(summary(stats, time.perf_counter() - started))
    return 1 if stats.failed else 0
