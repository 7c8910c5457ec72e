"""Long-lived helpers that handlers share: config loader, author classifier, renderer, mailer."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.settings import Settings


def build_services(settings: Settings, engine: Engine, clock: Clock) -> dict[str, Any]:
    from bot.config.loader import ConfigLoader
    from bot.effects.mail import make_mailer
    from bot.messages.overrides import TemplateOverrides
    from bot.record.people import Classifier
    from bot.record.repo_cache import RepoCache
    from bot.messages.templating import Renderer

    loader = ConfigLoader(engine, clock, ttl_seconds=settings.config_cache_seconds)
    branches: dict[str, str] = {}

    async def config_for(api: Any, repo: str) -> Any:
        branch = branches.get(repo)
        if branch is None:
            branch = branches[repo] = (await api.get_repo(repo)).get("default_branch") or "main"
        return (await loader.for_repo(api, repo, branch)).config

    renderer = Renderer()
    from bot.gitlab.forges import GitLabForges
    from bot.gitlab.settings import load_gitlab_settings

    gitlab = load_gitlab_settings()  # VEILLEUR_GITLAB_URL set: repositories there get their client
    overrides = TemplateOverrides(renderer, clock, settings.config_cache_seconds)

    services: dict[str, Any] = {
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
    if services["forges"] is not None:  # GitLab history imports run beside GitHub's
        from bot.backfill.tasks import tasks_of

        services["forges"].imports = tasks_of(services)
    return services
