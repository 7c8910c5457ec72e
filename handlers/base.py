"""What every handler module gets: the event, and a context for its I/O step.

A handler module exposes:
- `NAME`: a short stable name (used in handler_runs, logs and metrics);
- `EVENTS`: a set of (event, action) pairs; action `None` matches every action of that event;
- `async def handle(event: Event, ctx: Context) -> None`: the I/O step. It gathers facts,
  calls the module's pure step (payload + config + facts -> actions), then
  `await ctx.apply(actions)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.effects.actions import Action
    from bot.clock import Clock
    from bot.effects.executor import Executor
    from bot.forge import Forge
    from bot.settings import Settings


class UserError(Exception):
    """A mistake by a person (bad command, bad config). Answered with one clear comment."""

    def __init__(self, message: str, *, repo: str | None = None, number: int | None = None):
        super().__init__(message)
        self.message = message
        self.repo = repo
        self.number = number


@dataclass(frozen=True)
class Event:
    name: str
    action: str | None
    delivery: str
    payload: dict[str, Any]
    installation_id: int | None = None

    @property
    def repo(self) -> str | None:
        repo = self.payload.get("repository")
        return repo.get("full_name") if isinstance(repo, dict) else None

    @property
    def owner(self) -> str | None:
        repo = self.payload.get("repository")
        if isinstance(repo, dict):
            return (repo.get("owner") or {}).get("login")
        org = self.payload.get("organization")
        return org.get("login") if isinstance(org, dict) else None

    @property
    def sender(self) -> dict[str, Any]:
        sender = self.payload.get("sender")
        return sender if isinstance(sender, dict) else {}

    @property
    def sender_login(self) -> str | None:
        return self.sender.get("login")

    @property
    def sender_is_bot(self) -> bool:
        return is_bot_account(self.sender)

    @property
    def item(self) -> dict[str, Any] | None:
        """The issue or pull request the event is about, if any."""
        for key in ("pull_request", "issue"):
            value = self.payload.get(key)
            if isinstance(value, dict):
                return value
        return None

    @property
    def number(self) -> int | None:
        item = self.item
        return item.get("number") if item else None


def is_bot_account(user: dict[str, Any] | None) -> bool:
    if not user:
        return False
    login = str(user.get("login") or "")
    return user.get("type") == "Bot" or login.endswith("[bot]")


class ConfigSource(Protocol):
    async def for_repo(self, repo: str) -> Any: ...


@dataclass
class Context:
    """I/O for one handler run. Built per delivery by the dispatcher."""

    settings: Settings
    engine: Engine
    clock: Clock
    github: Forge | None  # the item's forge client (GitHub or another, bot/forge/)
    executor: Executor
    bot_login: str | None = None
    services: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock.now()

    async def apply(self, actions: Sequence[Action], *, dry_run: bool = False) -> list[str]:
        """Carry out intended actions (or only record them in dry-run). Returns descriptions."""
        return await self.executor.apply(actions, dry_run=dry_run)
