"""Operator commands that act as the App: `veilleur remind`."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from typing import Any

from bot.clock import SystemClock, instant_arg


def _parse_at(value: str | None) -> datetime:
    return instant_arg(value, SystemClock(), "2026-07-15T16:00:00+02:00")


async def _remind_offline(
    settings: Any, at: datetime, org: str | None
) -> tuple[list[str], list[str]]:
    """The same sweep, without the App: what was recorded, and one line on what was not."""
    from bot.clock import FrozenClock
    from bot.sla.offline import offline_sweeper
    from bot.storage.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        sweeper, sources = offline_sweeper(engine, FrozenClock(at), None)
        result = await sweeper.run(at, org=org)
    finally:
        engine.dispose()
    return [sources.summary()], list(result.actions)


def cmd_remind(args: argparse.Namespace) -> int:
    from bot.clock import FrozenClock
    from bot.periodic import sweeper_for
    from bot.runtime import open_runtime
    from bot.settings import SettingsError, settings_from
    from bot.storage.migrate import upgrade

    settings = settings_from(args)
    try:
        settings.require_app()
        offline = False
    except SettingsError:
        if not args.dry_run:
            raise
        offline = True  # a dry run decides from the record alone: see bot/sla/offline.py
    upgrade(settings.database_url)
    at = _parse_at(args.at)

    async def run() -> tuple[list[str], list[str]]:
        if offline:
            return await _remind_offline(settings, at, args.org)
        runtime, close = await open_runtime(settings, FrozenClock(at))
        try:
            result = await sweeper_for(runtime, dry_run=args.dry_run).run(at, org=args.org)
            return [], list(result.actions)
        finally:
            await close()

    header, actions = asyncio.run(run())
    for line in [*header, *actions]:
        print(line)
    print(f"{len(actions)} action(s) as of {at.isoformat()}{' (dry-run)' if args.dry_run else ''}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    remind = sub.add_parser("remind", help="run one SLA sweep as of an instant")
    remind.add_argument("--org", help="only this organisation (default: every one)")
    remind.add_argument("--at", help="ISO-8601 instant with a time zone (default: now)")
    remind.add_argument("--dry-run", action="store_true", help="print what would be done")
    remind.set_defaults(func=cmd_remind)
