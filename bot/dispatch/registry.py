"""Handlers as the dispatcher sees them (from the modules of `handlers.ALL`), and lookup by
(event, action)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any


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


def build(modules: Iterable[ModuleType]) -> list[Handler]:
    return [Handler.from_module(m) for m in modules]


def handlers_for(handlers: list[Handler], event: str, action: str | None) -> list[Handler]:
    return [h for h in handlers if h.wants(event, action)]
