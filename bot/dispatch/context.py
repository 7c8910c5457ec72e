"""What every handler gets: the event, and a context for its I/O step (the handler module's
shape is described in `handlers/__init__.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.messages.templating import T
from bot.record.people import is_bot_account
from bot.services import Services

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.clock import Clock
    from bot.config.loader import ResolvedConfig
    from bot.effects.actions import Action
    from bot.effects.executor import Executor
    from bot.forge import Forge
    from bot.settings import Settings


class UserError(Exception):
    """A mistake by a person (bad command, bad config). The dispatcher answers it with one
    comment on the item and counts the handler as done (a retry would only repeat it).

    `parts` are the templates (name, data) the comment is made of, rendered in the item's
    language; without them it says `message`. `marker` names the comment (the same name edits
    it: an answer per comment, not per delivery); `once` is the `action_log` key that lets it
    be posted only once (a rate limit on refusals)."""

    def __init__(
        self,
        message: str,
        *,
        repo: str | None = None,
        number: int | None = None,
        parts: Sequence[tuple[str, dict[str, Any]]] = (),
        marker: str | None = None,
        once: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.repo = repo
        self.number = number
        self.parts = tuple(parts)
        self.marker = marker
        self.once = once


class CommandError(UserError):
    """A command that cannot run; `reason` selects the sentence of the `command_error` template."""

    REASONS = ("unauthorised", "not_author", "invalid", "unknown", "disabled")

    def __init__(self, reason: str, message: str, *, command: str, usage: str | None = None):
        self.reason = reason
        self.command = command
        self.usage = usage
        super().__init__(message)
        self.parts = ((T.COMMAND_ERROR, self.template_data()),)

    def template_data(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "reason": self.reason,
            "message": self.message,
            "usage": self.usage,
        }


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

    @property
    def is_pull(self) -> bool:
        """A pull request (itself, or an issue comment's item that is one)."""
        item = self.item
        return isinstance(self.payload.get("pull_request"), dict) or (
            item is not None and "pull_request" in item
        )

    @property
    def item_author(self) -> dict[str, Any]:
        user = (self.item or {}).get("user")
        return user if isinstance(user, dict) else {}

    @property
    def item_author_login(self) -> str:
        return str(self.item_author.get("login") or "")

    @property
    def item_labels(self) -> tuple[str, ...]:
        return tuple(lbl.get("name", "") for lbl in (self.item or {}).get("labels") or [])

    @property
    def item_assignees(self) -> tuple[str, ...]:
        return tuple(a.get("login", "") for a in (self.item or {}).get("assignees") or [])

    @property
    def comment(self) -> dict[str, Any]:
        comment = self.payload.get("comment")
        return comment if isinstance(comment, dict) else {}

    @property
    def comment_body(self) -> str:
        return str(self.comment.get("body") or "")

    @property
    def comment_author(self) -> dict[str, Any]:
        """Who wrote the comment (the sender when the payload does not say)."""
        user = self.comment.get("user")
        return user if isinstance(user, dict) and user else self.sender

    @property
    def previous_body(self) -> str | None:
        """An edited comment's or item's body before the edit (None: not an edit of it)."""
        changes = self.payload.get("changes")
        body = changes.get("body") if isinstance(changes, dict) else None
        return body.get("from") if isinstance(body, dict) else None

    @property
    def review(self) -> dict[str, Any]:
        review = self.payload.get("review")
        return review if isinstance(review, dict) else {}

    @property
    def actor(self) -> dict[str, Any]:
        """The person who acted: a comment's or a review's author, else the sender."""
        if self.name == "issue_comment":
            user = self.comment.get("user")
        elif self.name == "pull_request_review":
            user = self.review.get("user")
        else:
            user = None
        return user if isinstance(user, dict) and user else self.sender

    @property
    def default_branch(self) -> str:
        """Where the repository's configuration is read: as the payload says, else `main`."""
        repo = self.payload.get("repository")
        branch = repo.get("default_branch") if isinstance(repo, dict) else None
        return branch if isinstance(branch, str) and branch else "main"


@dataclass
class Context:
    """I/O for one handler run. Built per delivery by the dispatcher."""

    settings: Settings
    engine: Engine
    clock: Clock
    github: Forge | None  # the item's forge client (GitHub or another, bot/forge/)
    executor: Executor
    bot_login: str | None = None
    services: Services = field(default_factory=Services)
    event: Event | None = None  # whose repository's configuration `config()` resolves
    # Shared by the contexts of one event's handlers: the configuration is resolved once.
    memo: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock.now()

    async def config(self) -> ResolvedConfig | None:
        """The event's repository configuration (its `.github/veilleur.yml` over the org's and
        the defaults), resolved once per event; None without a repository or the App."""
        if "config" not in self.memo:
            repo = self.event.repo if self.event is not None else None
            loader = self.services.get("config")
            if repo is None or self.github is None or loader is None:
                return None
            branch = self.event.default_branch if self.event is not None else "main"
            self.memo["config"] = await loader.for_repo(self.github, repo, branch)
        resolved: ResolvedConfig = self.memo["config"]
        return resolved

    async def apply(self, actions: Sequence[Action], *, dry_run: bool | None = None) -> list[str]:
        """Carry out intended actions, or only record them when the process or the
        repository's configuration says dry-run. Returns descriptions."""
        if dry_run is None:
            resolved = await self.config() if actions else None
            dry_run = bool(resolved is not None and resolved.config.dry_run)
        return await self.executor.apply(actions, dry_run=dry_run)
