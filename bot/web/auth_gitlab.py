"""Sign-in with GitLab: `/auth/gitlab/login` → the instance (`VEILLEUR_GITLAB_URL`) →
`/auth/gitlab/callback` → back where the visitor was. The same session and sign-out as
GitHub's (bot/web/auth.py); the GitLab side is bot/web/oauth_gitlab.py."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from bot.gitlab.settings import GitLabSettings
from bot.web import oauth_gitlab, session
from bot.web.auth import failed
from bot.web.context import unconfigured, web_context
from bot.web.oauth import SignInError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/auth/gitlab", include_in_schema=False)
FORGE = "gitlab"


def _gitlab(request: Request) -> GitLabSettings | None:
    found = getattr(request.app.state, "gitlab_settings", None)
    return found if isinstance(found, GitLabSettings) else None


@router.get("/login")
async def login(request: Request, next_path: str = Query("/", alias="next")) -> Response:
    ctx = web_context(request)
    target = session.safe_next(next_path)
    settings, gitlab = ctx.settings, _gitlab(request)
    if settings.dashboard_open:
        return RedirectResponse(target, status_code=302)
    if gitlab is None or not oauth_gitlab.configured(settings, gitlab):
        return unconfigured(ctx, 503)
    response = RedirectResponse("/", status_code=302)
    state = session.new_state(response, request, settings, target, forge=FORGE)
    redirect_uri = oauth_gitlab.callback_url(settings, str(request.base_url))
    challenge = oauth_gitlab.challenge(oauth_gitlab.verifier(settings, state))
    response.headers["location"] = oauth_gitlab.authorize_url(
        gitlab, redirect_uri, state, challenge
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/callback")
async def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    ctx = web_context(request)
    t, settings, gitlab = ctx.t, ctx.settings, _gitlab(request)
    retry = {"action_url": "/auth/gitlab/login", "action_label": t("try_again")}
    if gitlab is None or not oauth_gitlab.configured(settings, gitlab):
        return unconfigured(ctx, 503)
    target = session.check_state(request, settings, state, forge=FORGE)
    if target is None:
        return failed(ctx, t("signin_state"), 400, retry)
    if error or not code:
        return failed(ctx, t("signin_denied_gitlab"), 400, retry)
    redirect_uri = oauth_gitlab.callback_url(settings, str(request.base_url))
    try:
        verifier = oauth_gitlab.verifier(settings, state)
        token = await oauth_gitlab.exchange_code(gitlab, code, redirect_uri, verifier)
        viewer = await oauth_gitlab.fetch_viewer(gitlab, request.app.state.engine, token)
    except SignInError as exc:
        return failed(ctx, str(exc), 502, retry)
    response = RedirectResponse(target, status_code=302)
    try:
        session.write_viewer(response, request, settings, viewer)
    except session.SessionTooLarge as exc:
        log.warning("session for %s (GitLab) too large: %s", viewer.login, exc)
        return failed(ctx, t("signin_too_large"), 400, {})
    session.clear_state(response)
    log.info(
        "dashboard sign-in with GitLab: %s (%d projects)", viewer.login, len(viewer.full_names())
    )
    return response
