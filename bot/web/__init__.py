"""The web dashboard: sign-in with GitHub or GitLab, HTML pages with SVG charts, and a JSON API.

`build_web_router()` is mounted by `bot.app.create_app`. Modules: `session` (signed cookies),
`oauth` (the sign-in provider interface, GitHub's provider), `oauth_gitlab`, `auth_gitlab` and
`access_gitlab` (GitLab sign-in), `access` (who sees which repositories), `data` (digests,
scoped), `charts` (SVG), `i18n` (en/fr/nl/de), `context` (rendering), `pages`, `api`, `auth`,
`accessibility` (routes; `auth` runs both forges' sign-in flow); `explore` (repository, item,
contributor and organisation pages) and `badges` (README badges) read weekly snapshots
(`snapshots`, `aggregates`).

`VEILLEUR_DASHBOARD_OPEN=true` serves everything without sign-in: it exists for
`veilleur demo` and its made-up data only, and must never be set in production.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter

from bot.settings import Settings

log = logging.getLogger(__name__)


def build_web_router(settings: Settings | None = None) -> APIRouter:
    from bot.web import accessibility, api, auth, auth_gitlab, badges, explore, pages

    if settings is not None and settings.dashboard_open:
        log.warning(
            "VEILLEUR_DASHBOARD_OPEN is on: the dashboard serves every repository, private ones "
            "included, without sign-in. It is meant for `veilleur demo` only."
        )
    router = APIRouter()
    router.include_router(auth.router)
    router.include_router(auth_gitlab.router)
    router.include_router(api.router)
    router.include_router(pages.router)
    router.include_router(accessibility.router)
    router.include_router(explore.router)
    router.include_router(badges.router)
    return router
