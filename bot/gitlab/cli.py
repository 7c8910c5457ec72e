"""`veilleur backfill --org gitlab.example.org/group`: import the history of every project of a
GitLab group (subgroups included) the token reaches, with the GitHub import's progress bar.

Resumable as the background imports are (bot/gitlab/backfill.py): a rerun with the same
`--since` continues where the last one stopped, `--restart` starts over. A rate limit longer
than the transport sleeps through is waited here, then the import goes on from its cursor.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bot.backfill.stats import Stats
from bot.backfill.stats import summary as stats_summary
from bot.forge.errors import RateLimited

T = TypeVar("T")
SLEEP: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests record the waits instead


@dataclass
class GroupStats(Stats):
    graphql: int = 0  # of `requests`; `repos` counts the group's projects


def summary(stats: GroupStats, seconds: float) -> str:
    return stats_summary(
        stats,
        seconds,
        f"{stats.repos} projects, {stats.items} items ({stats.entries_new} new timeline "
        f"entries), {stats.requests} requests, {stats.graphql} of them GraphQL",
    )


async def patiently(
    step: Callable[[], Awaitable[T]], pauses: dict[str, datetime], clock: Any, stats: GroupStats
) -> T:
    """`step`, again after each rate limit once its time has passed (the step resumes from
    its saved cursors, so nothing is read twice)."""
    while True:
        try:
            return await step()
        except RateLimited as exc:
            wait = max((exc.until - clock.now()).total_seconds(), 1.0)
            stats.waited_seconds += wait
            await SLEEP(wait)
            pauses.pop(exc.scope, None)


def _once_restarted(
    backfill: Any, repo: str, since: datetime | None, restart: bool
) -> Callable[[], Awaitable[Any]]:
    """The import of one project; `--restart` applies to its first attempt only (a retry after
    a rate limit resumes the restarted import)."""
    first = [restart]

    async def step() -> Any:
        again, first[0] = first[0], False
        return await backfill.run(repo, since, restart=again)

    return step


def cmd_gitlab_backfill(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bot.backfill.cli import RichProgress, parse_since
    from bot.clock import SystemClock
    from bot.forge import RepoName
    from bot.gitlab import projects
    from bot.gitlab.backfill import GitLabBackfill
    from bot.gitlab.forges import GitLabForges
    from bot.gitlab.settings import load_gitlab_settings
    from bot.settings import SettingsError, settings_from
    from bot.storage.db import make_engine
    from bot.storage.migrate import upgrade

    settings = settings_from(args)
    gitlab = load_gitlab_settings()
    host, _, group = str(args.org).strip("/").partition("/")
    if not gitlab.enabled:
        raise SettingsError("VEILLEUR_GITLAB_URL must be set to import a GitLab group.")
    if host.lower() != gitlab.host:
        raise SettingsError(f"{args.org} is not on VEILLEUR_GITLAB_URL ({gitlab.host}).")
    since = parse_since(args.since)
    upgrade(settings.database_url)
    clock = SystemClock()
    stats = GroupStats()

    async def run() -> None:
        engine = make_engine(settings.database_url)
        pauses: dict[str, datetime] = {}
        forges = GitLabForges.from_settings(gitlab, clock, engine, pauses=pauses)
        try:
            found = await patiently(lambda: forges.api.group_projects(group), pauses, clock, stats)
            if found is None:
                raise SettingsError(f"the GitLab token sees no group {group!r} on {gitlab.host}.")
            for data in found:
                projects.record(engine, data, clock.now())
            with RichProgress(Console(stderr=True)) as progress:
                backfill = GitLabBackfill(engine, forges.api, clock, progress=progress)
                for name in sorted(RepoName.parse(str(r["full_name"])).full_name for r in found):
                    try:
                        done = await patiently(
                            _once_restarted(backfill, name, since, args.restart),
                            pauses, clock, stats,
                        )  # fmt: skip
                    except Exception as exc:  # one project's failure must not stop the others
                        stats.failed.append(f"{name} ({exc})")
                        continue
                    stats.repos += 1
                    stats.items += done.items
                    stats.entries_new += done.entries
            stats.requests = forges.api.http.calls
            stats.graphql = forges.api.http.graphql_calls
        finally:
            await forges.aclose()
            engine.dispose()

    started = time.perf_counter()
    asyncio.run(run())
    print(summary(stats, time.perf_counter() - started))
    return 1 if stats.failed else 0
