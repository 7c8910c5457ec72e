"""Sign-in with GitLab: `/auth/gitlab/login` → the instance (`VEILLEUR_GITLAB_URL`) →
`/auth/gitlab/callback` → back where the visitor was. The same flow, session and sign-out as
GitHub's (bot/web/auth.py); the GitLab side is bot/web/oauth_gitlab.py."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from bot.gitlab.settings import GitLabSettings
from bot.web import oauth_gitlab
from bot.web.auth import begin, finish
from bot.web.context import WebContext

router = APIRouter(prefix="/auth/gitlab", include_in_schema=False)


def _gitlab(ctx: WebContext) -> oauth_gitlab.GitLab | None:
    found = getattr(ctx.request.app.state, "gitlab_settings", None)
    if not isinstance(found, GitLabSettings) or not oauth_gitlab.configured(ctx.settings, found):
        return None
    return oauth_gitlab.GitLab(ctx.settings, found, ctx.request.app.state.engine)


@router.get("/login")
async def login(request: Request, next_path: str = Query("/", alias="next")) -> Response:
    return await begin(request, next_path, _gitlab)


@router.get("/callback")
async def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    return await finish(request, code, state, error, _gitlab)
