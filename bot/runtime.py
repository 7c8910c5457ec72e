"""The composition root: the one place that puts the core and the handlers together.

`Runtime` holds what a running Veilleur is made of (settings, engine, clock, forge client,
services, dispatcher) and offers `receive(event_name, payload)`: one webhook, stored and
dispatched in-process, without HTTP or polling (probot's `receive`, bedevere's
`router.dispatch`), for tests and tools that need the whole path from delivery to effect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import Clock
from bot.dispatch.dispatcher import Dispatcher
from bot.dispatch.registry import Handler, build
from bot.intake.endpoint import row_from_payload
from bot.intake.writer import GroupWriter
from bot.queue import deliveries
from bot.services import Services
from bot.settings import Settings
from bot.storage.models import Delivery


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

    loader = ConfigLoader(engine, clock, ttl_seconds=settings.config_cache_seconds)
    branches: dict[str, str] = {}

    async def config_for(api: Any, repo: str) -> Any:
        branch = branches.get(repo)
        if branch is None:
            branch = branches[repo] = (await api.get_repo(repo)).get("default_branch") or "main"
        return (await loader.for_repo(api, repo, branch)).config

    renderer = Renderer()
    overrides = TemplateOverrides(renderer, clock, settings.config_cache_seconds)
    from bot.gitlab.forges import GitLabForges
    from bot.gitlab.settings import load_gitlab_settings

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
    }
    forges = services["forges"]
    if forges is not None:  # GitLab history imports run beside GitHub's
        from bot.backfill.tasks import tasks_of

        forges.imports = tasks_of(services)
    return services


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock
    dispatcher: Dispatcher

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
        """`services` defaults to the real ones (`build_services`)."""
        if services is None:
            services = build_services(settings, engine, clock)
        dispatcher = Dispatcher(
            settings=settings,
            engine=engine,
            clock=clock,
            app_client=app_client,
            bot_login=bot_login,
            mailer=services.get("mailer"),
            services=services,
            handlers=handlers if handlers is not None else default_handlers(),
        )
        return cls(settings=settings, engine=engine, clock=clock, dispatcher=dispatcher)

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
