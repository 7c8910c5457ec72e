"""Feature handlers, one module per concern, and `ALL`: the one ordered list of them.

A handler module exposes:
- `NAME`: a short stable name (used in handler_runs, logs and metrics);
- `EVENTS`: a set of (event, action) pairs; action `None` matches every action of that event;
- `SEES_OWN_EVENTS` (optional, False): bookkeeping handlers also see the bot's own events;
- `async def handle(event: Event, ctx: Context) -> None`: the I/O step. It gathers facts,
  calls the module's pure step (payload + config + facts -> actions), then
  `await ctx.apply(actions)` (`bot.dispatch.context`).

Handlers use the core (`bot`); the core never imports them, except the composition root
(`bot.runtime`), which hands `ALL` to the dispatcher.
"""

from types import ModuleType

from handlers import (
    backfill,
    commands,
    config_watch,
    installations,
    membership,
    records,
    repo_cache,
    repositories,
    triage,
    turn,
)

# Order matters: `records` runs first so feature handlers see the item in the record.
ALL: list[ModuleType] = [
    installations,
    repositories,
    backfill,
    membership,
    repo_cache,
    records,
    config_watch,
    triage,
    commands,
    turn,
]
