"""The one explicit list of handlers, and lookup by (event, action)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

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
HANDLER_MODULES: list[ModuleType] = [
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


@dataclass(frozen=True)
class Handler:
    name: str
    events: frozenset[tuple[str, str | None]]
    handle: Callable[..., Awaitable[Any]]
    # Bookkeeping handlers see every event; feature handlers never see the bot's own.
    sees_own_events: bool = False

    def wants(self, event: str, action: str | None) -> bool:
        return (event, action) in self.events or (event, None) in self.events

    @classmethod
    def from_module(cls, module: ModuleType) -> Handler:
        return cls(
            name=module.NAME,
            events=frozenset(module.EVENTS),
            handle=module.handle,
            sees_own_events=getattr(module, "SEES_OWN_EVENTS", False),
        )


def build(modules: Iterable[ModuleType] | None = None) -> list[Handler]:
    return [Handler.from_module(m) for m in (modules or HANDLER_MODULES)]


def handlers_for(handlers: list[Handler], event: str, action: str | None) -> list[Handler]:
    return [h for h in handlers if h.wants(event, action)]
