"""Long-lived helpers that handlers share: config loader, author classifier, renderer, mailer.

`Services` names each one with its type (built by `bot.runtime.build_services`); a test gives
only those its code needs (a partial mapping), so code that may run without one reads it with
`.get()`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from bot.backfill.tasks import BackfillTasks
    from bot.config.loader import ConfigLoader
    from bot.effects.mail import Mailer
    from bot.forge.links import WebLinks
    from bot.gitlab.forges import GitLabForges
    from bot.messages.overrides import TemplateOverrides
    from bot.messages.templating import Renderer
    from bot.record.people import Classifier
    from bot.record.repo_cache import RepoCache


class Services(TypedDict, total=False):
    config: ConfigLoader  # `.github/veilleur.yml`, layered and cached
    overrides: TemplateOverrides  # the org's template overrides
    config_for: Callable[[Any, str], Awaitable[Any]]  # (api, repo) -> config, branch found
    branches: dict[str, str]  # repository -> default branch, as payloads said
    classifier: Classifier  # author classes
    renderer: Renderer
    mailer: Mailer | None
    repo_cache: RepoCache  # what a repository's deliveries need not ask again
    backfill_tasks: BackfillTasks  # history imports running beside the queue (made on use)
    forges: GitLabForges | None  # clients of other forges (bot/gitlab/), by repository
    links: WebLinks  # web pages of repositories, items and people on either forge
