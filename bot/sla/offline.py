"""What `veilleur remind --dry-run` reads when it cannot act as the App: the record only.

The sweep is the same `Sweeper`; only its sources change. Configuration comes from the
`configs` table (the last valid one Veilleur recorded for each repository) or, for a
repository never configured, from the packaged defaults; templates are the packaged ones; no
CODEOWNERS is read. `OfflineSources.summary()` says so in one line for the operator.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.config.loader import ConfigLoader, ResolvedConfig
from bot.messages.templating import Renderer
from bot.services import Services


class OfflineError(RuntimeError):
    """Something the sweep would have asked GitHub; offline, nobody answers."""


class OfflineAPI:
    """Stands in for an installation's API: every file is absent, nothing else is reachable.

    The sweep asks for CODEOWNERS (absent, so owners come from assignees, reviewers and the
    configured maintainers) and, when the record lacks a default branch, for the repository.
    A dry run performs no action, so no write ever reaches here.
    """

    async def get_file(
        self, repo: str, path: str, ref: str | None = None, *, keep: bool = False
    ) -> None:
        return None

    async def list_dir(self, repo: str, path: str, *, keep: bool = False) -> list[dict[str, Any]]:
        return []

    async def get_repo(self, repo: str) -> dict[str, Any]:
        return {}  # the sweep then assumes `main`; offline configs do not depend on it

    def __getattr__(self, name: str) -> Any:
        raise OfflineError(f"offline: GitHub cannot be asked ({name}) without the App settings")


class RecordedConfigs(ConfigLoader):
    """The last valid configuration recorded for each repository, however old; else defaults."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        super().__init__(engine, clock)
        self.recorded: set[str] = set()
        self.defaulted: set[str] = set()

    async def for_repo(self, api: Any, repo: str, default_branch: str) -> ResolvedConfig:
        key = repo.lower()
        record = self._read(key)
        stored = self._from_record(record) if record is not None else None
        if stored is not None:
            self.recorded.add(key)
            return stored
        self.defaulted.add(key)
        return ResolvedConfig(self._fallback(None))


class PackagedTemplates:
    """Organisation template overrides live on GitHub; offline, the packaged templates."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    async def renderer_for(self, api: Any, repo: str) -> Renderer:
        return self.renderer


class OfflineSources:
    """The services and API lookup a `Sweeper` needs, none of which reaches GitHub."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        renderer = Renderer()
        self.configs = RecordedConfigs(engine, clock)
        # Stand-ins with what the Sweeper uses of the config loader and the overrides.
        self.services = cast(
            Services,
            {
                "config": self.configs,
                "overrides": PackagedTemplates(renderer),
                "branches": {},
                "renderer": renderer,
            },
        )
        self._api = OfflineAPI()

    def api_for(self, installation_id: int | None) -> OfflineAPI | None:
        """Like the App's: a repository no installation covers is not swept."""
        return None if installation_id is None else self._api

    def summary(self) -> str:
        """One line: what this run could not know, for the top of the output."""
        recorded, defaulted = len(self.configs.recorded), len(self.configs.defaulted)
        config = f"configuration as last recorded for {_count(recorded, 'repository')}"
        if defaulted:
            config += f", packaged defaults for {_count(defaulted, 'never recorded')}"
        return (
            f"offline: {config}; packaged templates (organisation overrides not read); "
            "CODEOWNERS not read"
        )


def _count(n: int, what: str) -> str:
    return f"{n} {what[:-1]}ies" if n != 1 and what.endswith("y") else f"{n} {what}"


def offline_sweeper(engine: Engine, clock: Clock, bot_login: str | None) -> tuple[Any, Any]:
    """A dry-run `Sweeper` over the record alone, and the sources that tell what it read."""
    from bot.sla.sweep import Sweeper

    sources = OfflineSources(engine, clock)
    sweeper = Sweeper(
        engine=engine,
        services=sources.services,
        api_for=sources.api_for,
        bot_login=bot_login,
        mailer=None,
        dry_run=True,
    )
    return sweeper, sources
