"""Which repositories live on the configured GitLab instance, their client, and the events
its hooks become. Given to the dispatcher as `services["forges"]` (bot/dispatch/dispatcher.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.engine import Engine

from bot.forge import Forge, RepoName
from bot.gitlab import projects
from bot.gitlab.backfill import GitLabBackfill
from bot.gitlab.client import GitLabAPI
from bot.gitlab.hooks import EVENT_PREFIX, normalise
from bot.gitlab.settings import GitLabSettings
from bot.gitlab.transport import Transport


class GitLabForges:
    def __init__(self, api: GitLabAPI, engine: Engine | None = None, clock: Any = None) -> None:
        self.api = api
        self.host = api.host
        self.engine = engine  # set: projects are recorded when their hooks are first seen
        self.clock = clock
        self.imports: Any = None  # bot.backfill.tasks.BackfillTasks: history of new projects

    @classmethod
    def from_settings(
        cls, settings: GitLabSettings, clock: Any, engine: Engine | None = None, **kw: Any
    ) -> GitLabForges:
        token = settings.token.get_secret_value() if settings.token else ""
        transport = Transport(
            settings.url or "", token, clock=clock, timeout=settings.timeout_seconds, **kw
        )
        return cls(GitLabAPI(transport, settings.host), engine, clock)

    def for_repo(self, repo: str) -> Forge | None:
        return self.api if RepoName.parse(repo).host == self.host else None

    async def normalise(self, event: Any) -> Any:
        """A stored GitLab hook (`gitlab/<kind>`) as the event (bot.dispatch.context.Event) the
        handlers plan from; other events pass unchanged."""
        if not event.name.startswith(EVENT_PREFIX):
            return event
        name, action, payload = await normalise(event.name, event.payload, self.host, self.api)
        own = await self.api.whoami()
        if own and payload["sender"].get("login") == own:
            payload["sender"]["type"] = "Bot"
            payload["sender_is_self"] = True  # Veilleur's own change (bot/dispatch/dispatcher.py)
        repo = payload.get("repository")
        if self.engine is not None and self.clock is not None and isinstance(repo, dict):
            if projects.record(self.engine, repo, self.clock.now()):
                self.import_history(str(repo["full_name"]))
        return dataclasses.replace(event, name=name, action=action, payload=payload)

    def import_history(self, repo: str) -> None:
        """In the background, as GitHub's imports on installation (bot/backfill/tasks.py)."""
        if self.imports is None or self.engine is None:
            return
        backfill = GitLabBackfill(self.engine, self.api, self.clock)

        async def run() -> Any:
            return await backfill.run(repo)

        self.imports.start(repo, run)

    async def sync(self) -> int:
        """Record every project the token reaches and resume unfinished imports (the hourly
        reconciliation)."""
        if self.engine is None or self.clock is None:
            return 0
        found = await projects.sync(self.engine, self.api, self.clock.now())
        backfill = GitLabBackfill(self.engine, self.api, self.clock)
        for repo in await projects.unfinished(self.engine, self.host):
            await backfill.run(repo)
        return found

    async def aclose(self) -> None:
        await self.api.http.aclose()
