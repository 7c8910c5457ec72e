"""Sign-in routes: `/auth/login` → GitHub → `/auth/callback` → back where the visitor was;
`/auth/logout`. The flow (`begin`, `finish`) is written once for both forges, around a
`bot.web.oauth.Provider`: GitHub's is in `bot.web.oauth`, GitLab's routes in
bot/web/auth_gitlab.py; `bot.web.session` holds the cookies. With GitLab sign-in configured
too, `/auth/login` asks which."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from bot.web import oauth, session
from bot.web.context import WebContext, message, render, sign_in_forges, unconfigured, web_context

log = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", include_in_schema=False)


@router.get("/login")
async def login(request: Request, next_path: str = Query("/", alias="next")) -> Response:
    """GitHub's sign-in, GitLab's, or a choice between the two when both are configured."""
    ctx = web_context(request)
    target = session.safe_next(next_path)
    if ctx.settings.dashboard_open:
        return RedirectResponse(target, status_code=302)
    forges = sign_in_forges(ctx)
    if forges == ["gitlab"]:
        return RedirectResponse(f"/auth/gitlab/login?{urlencode({'next': target})}", 302)
    if len(forges) > 1:
        links = {f: f"/auth/{f}/login?{urlencode({'next': target})}" for f in forges}
        return render(ctx, "signin.html", links=links)
    return await github_login(request, target)


@router.get("/github/login")
async def github_login(request: Request, next_path: str = Query("/", alias="next")) -> Response:
    return await begin(request, next_path, _github)


@router.get("/callback")
async def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    return await finish(request, code, state, error, _github)


def _github(ctx: WebContext) -> oauth.Provider | None:
    return oauth.GitHub(ctx.settings) if oauth.configured(ctx.settings) else None


async def begin(
    request: Request, next_path: str, provider_of: Callable[[WebContext], oauth.Provider | None]
) -> Response:
    """A forge's sign-in starts: the `state` cookie is set and the browser sent to the forge."""
    ctx = web_context(request)
    target = session.safe_next(next_path)
    settings = ctx.settings
    if settings.dashboard_open:
        return RedirectResponse(target, status_code=302)
    provider = provider_of(ctx)
    if provider is None:
        return unconfigured(ctx, 503)
    response = RedirectResponse("/", status_code=302)
    state = session.new_state(response, request, settings, target, forge=provider.forge)
    redirect_uri = provider.callback_url(str(request.base_url))
    response.headers["location"] = provider.authorize_url(redirect_uri, state)
    response.headers["Cache-Control"] = "no-store"
    return response


async def finish(
    request: Request,
    code: str,
    state: str,
    error: str,
    provider_of: Callable[[WebContext], oauth.Provider | None],
) -> Response:
    """The forge's callback: the state checked, the code redeemed, the session written."""
    ctx = web_context(request)
    t, settings, provider = ctx.t, ctx.settings, provider_of(ctx)
    if provider is None:
        return unconfigured(ctx, 503)
    retry = {"action_url": provider.retry_path, "action_label": t("try_again")}
    target = session.check_state(request, settings, state, forge=provider.forge)
    if target is None:
        return failed(ctx, t("signin_state"), 400, retry)
    if error or not code:
        return failed(ctx, t(provider.denied), 400, retry)
    redirect_uri = provider.callback_url(str(request.base_url))
    try:
        token = await provider.exchange_code(code, redirect_uri, state)
        viewer = await provider.fetch_viewer(token)
    except oauth.SignInError as exc:
        return failed(ctx, str(exc), 502, retry)
    label = provider.label  # GitHub's log lines, older, name no forge
    response = RedirectResponse(target, status_code=302)
    try:
        session.write_viewer(response, request, settings, viewer)
    except session.SessionTooLarge as exc:
        tag = f" ({label})" if label else ""
        log.warning("session for %s%s too large: %s", viewer.login, tag, exc)
        return failed(ctx, t("signin_too_large"), 400, {})
    session.clear_state(response)
    via, seen = f" with {label}" if label else "", len(viewer.full_names())
    log.info("dashboard sign-in%s: %s (%d %s)", via, viewer.login, seen, provider.unit)
    return response


def failed(ctx: WebContext, text: str, status: int, action: dict[str, str]) -> Response:
    """A sign-in that went wrong (either forge): said, and its `state` cookie dropped."""
    response = message(ctx, ctx.t("signin_failed_title"), text, status=status, **action)
    session.clear_state(response)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """A POST (a link or an image cannot sign anyone out); the session is revoked."""
    settings = request.app.state.settings
    await asyncio.to_thread(
        session.revoke_session, request, settings, request.app.state.clock.now()
    )
    # Not "/": signed out, it would send the browser straight back through GitHub's sign-in.
    response = RedirectResponse("/auth/signed-out", status_code=303)
    session.clear_viewer(response)
    return response


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    ctx = web_context(request)
    return message(
        ctx,
        ctx.t("signed_out_title"),
        ctx.t("signed_out_text"),
        status=200,
        action_url="/auth/login",
        action_label=ctx.t("sign_in"),
    )
