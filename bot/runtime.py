"""The composition root: the one place that puts the core and the handlers together.

``Runtime` holds what a running Veilleur is made of (settings, engine, clock, forge clients,
services, handlers, dispatcher) and offers `receive(event_name, payload)`: one webhook, stored and
dispatched in-process, without HTTP or polling (probot's `receive`, bedevere's
`router.dispatch`), for tests and tools that need the whole path from delivery to effect.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import Clock
from bot.dispatch.dispatcher import Dispatcher
from bot.dispatch.registry import Handler, build
from bot.github.client import GitHubAPI
from bot.intake.endpoint import row_from_payload
from bot.intake.writer import GroupWriter
from bot.queue import deliveries
from bot.services import Services
from bot.settings import Settings
from bot.storage.models import Delivery

log = logging.getLogger(__name__)

ServicesFactory = Callable[[Settings, Engine, Clock], Services]
Cleanup = Callable[[], Awaitable[None]]

if TYPE_CHECKING:
    from githubkit import GitHub

    from bot.effects.mail import Mailer


def default_handlers() -> list[Handler]:
    """`handlers.ALL`, in order: the only import of the handlers from the core."""
    import handlers

    return build(handlers.ALL)


def handler_modules() -> dict[str, Any]:
    """`handlers.ALL` by `NAME`, for tools that drive the handlers' pure plans without a
    dispatcher (`veilleur replay`, bot/replay/engine.py)."""
    import handlers

    return {m.NAME: m for m in handlers.ALL}


def build_services(settings: Settings, engine: Engine, clock: Clock) -> Services:
    from bot.config.loader import ConfigLoader
    from bot.effects.mail import make_mailer
    from bot.messages.overrides import TemplateOverrides
    from bot.messages.templating import Renderer
    from bot.record.people import Classifier
    from bot.record.repo_cache import RepoCache

    loader = ConfigLoader(
        engine,
        clock,
        ttl_seconds=settings.config_refetch_seconds,
        memory_seconds=settings.config_cache_seconds,
    )
    branches: dict[str, str] = {}

    async def config_for(api: Any, repo: str) -> Any:
        branch = branches.get(repo)
        if branch is None:
            branch = branches[repo] = (await api.get_repo(repo)).get("default_branch") or "main"
        return (await loader.for_repo(api, repo, branch)).config

    renderer = Renderer()
    overrides = TemplateOverrides(
        renderer, clock, settings.config_refetch_seconds, org_reads=loader.org_reads
    )
    from bot.gitlab.forges import GitLabForges
    from bot.gitlab.settings import load_gitlab_settings, web_links

    gitlab = load_gitlab_settings()  # VEILLEUR_GITLAB_URL set: repositories there get their client
    services: Services = {
        "config": loader,
        "overrides": overrides,
        "config_for": config_for,
        "branches": branches,
        "classifier": Classifier(engine, clock, settings.membership_cache_seconds, config_for),
        "renderer": renderer,
        "mailer": make_mailer(settings),
        "repo_cache": RepoCache(clock),
        "forges": GitLabForges.from_settings(gitlab, clock, engine) if gitlab.enabled else None,
        "links": web_links(settings.github_web_url, gitlab),  # web pages on either forge
    }
    forges = services["forges"]
    if forges is not None:  # GitLab history imports run beside GitHub's
        from bot.backfill.tasks import tasks_of

        forges.imports = tasks_of(services)
    return services


@dataclass(eq=False)
class Runtime:
    """What a running Veilleur is made of, for whatever runs in it: the dispatcher, the
    periodic jobs, the operator commands and the dashboard take this, never the dispatcher."""

    settings: Settings
    engine: Engine
    clock: Clock
    services: Services = field(default_factory=Services)
    app_client: GitHub[Any] | None = None  # the App's client (None: no App configured)
    bot_login: str | None = None  # the App's account, to know its own events
    handlers: list[Handler] = field(default_factory=list)
    mailer: Mailer | None = None  # defaults to `services["mailer"]`
    pauses: dict[int, datetime] = field(default_factory=dict)  # installation → waits until
    dispatcher: Dispatcher = field(init=False)

    def __post_init__(self) -> None:
        if self.mailer is None:
            self.mailer = self.services.get("mailer")
        self._apis: dict[int, GitHubAPI] = {}
        self.dispatcher = Dispatcher(self)

    def api_for(self, installation_id: int | None) -> GitHubAPI | None:
        """The client acting as one installation (cached: it keeps its token and write pace)."""
        if installation_id is None or self.app_client is None:
            return None
        api = self._apis.get(installation_id)
        if api is None:
            api = self._apis[installation_id] = GitHubAPI(
                self.app_client,
                installation_id,
                clock=self.clock,
                write_spacing=self.settings.write_spacing_seconds,
                pauses=self.pauses,
            )
        return api

    def paused_installations(self) -> list[int]:
        """Installations GitHub asked to wait: none of their deliveries is taken meanwhile."""
        now = self.clock.now()
        for inst in [i for i, until in self.pauses.items() if until <= now]:
            del self.pauses[inst]
        return list(self.pauses)

    @classmethod
    def build(
        cls,
        settings: Settings,
        engine: Engine,
        clock: Clock,
        *,
        app_client: Any = None,
        bot_login: str | None = None,
        services: Services | None = None,
        handlers: list[Handler] | None = None,
    ) -> Runtime:
        """`services` defaults to the real ones (`build_services`), `handlers` to
        `handlers.ALL`."""
        return cls(
            settings=settings,
            engine=engine,
            clock=clock,
            services=services if services is not None else build_services(settings, engine, clock),
            app_client=app_client,
            bot_login=bot_login,
            handlers=handlers if handlers is not None else default_handlers(),
        )

    async def receive(
        self, event_name: str, payload: dict[str, Any], *, guid: str | None = None
    ) -> Delivery:
        """Store one webhook as the intake would, then run it through the handlers now.
        Returns the delivery as left by the dispatcher (status done, failed or dead)."""
        guid = guid or str(uuid.uuid4())
        now = self.clock.now()
        body = orjson.dumps(payload)
        row = row_from_payload(guid, event_name, body, payload, now)
        (outcome,) = GroupWriter(self.engine).write_or_fail([row])
        if isinstance(outcome, Exception):
            raise outcome
        delivery = deliveries.claim(self.engine, guid, now)
        if delivery is not None:  # None: already processed (a redelivery of a done GUID)
            await self.dispatcher.run(delivery)
        with Session(self.engine) as s:
            stored = s.get(Delivery, guid)
            assert stored is not None
            return stored


def make_runtime_factory(
    settings: Settings, engine: Engine, clock: Clock, services: ServicesFactory = build_services
) -> Callable[[], Awaitable[tuple[Runtime, Cleanup]]]:
    """Builds the runtime where it will run (a worker loop: its HTTP connection pool lives
    there), with the App's client and login, and an async cleanup callback."""

    async def factory() -> tuple[Runtime, Cleanup]:
        from bot.github.client import SharedTransport, app_login, make_app_client

        transport = SharedTransport()
        client = make_app_client(settings, transport)
        login: str | None = None
        try:
            login = await app_login(client)
        except Exception as exc:  # the forge may be briefly unreachable; bots are still typed
            log.warning("could not read the App's login (%s); own events found by type", exc)
        runtime = Runtime.build(
            settings,
            engine,
            clock,
            app_client=client,
            bot_login=login,
            services=services(settings, engine, clock),
        )

        async def cleanup() -> None:
            """The GitLab client's connections are closed with GitHub's (a worker's stop, the
            end of an operator command), or they would be left to the garbage collector."""
            try:
                forges = runtime.services.get("forges")
                if forges is not None:
                    await forges.aclose()
            finally:
                await transport.close()

        return runtime, cleanup

    return factory


async def open_runtime(
    settings: Settings, clock: Clock
) -> tuple[Runtime, Callable[[], Awaitable[None]]]:
    """The runtime an operator command (`veilleur remind`, `veilleur backfill`) acts in as the
    App, on its own engine, with its async cleanup."""
    from bot.storage.db import make_engine

    engine = make_engine(settings.database_url)
    return await make_runtime_factory(settings, engine, clock)()
