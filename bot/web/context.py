"""What every dashboard request needs: settings, the viewer and their access, the language,
and HTML rendering with Jinja (autoescape on: titles and logins are contributor-controlled).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.forge.links import item_ref, short_ref
from bot.resources import templates_dir
from bot.settings import Settings
from bot.web import oauth, oauth_gitlab
from bot.web.access import Access, access_for
from bot.web.i18n import WEB_LANGUAGES, Messages, negotiate
from bot.web.org_urls import org_path, repo_in_org
from bot.web.session import Viewer, read_viewer

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "private, no-store",
}
_URL = re.compile(r"^https?://[^\s<>\"'`\\]+$")


@dataclass(frozen=True)
class WebContext:
    request: Request
    settings: Settings
    viewer: Viewer | None
    access: Access | None  # None: must sign in
    lang: str
    explicit_lang: bool

    @property
    def t(self) -> Messages:
        return Messages(self.lang)

    def link(self, path: str, **query: str) -> str:
        """A local link keeping `?lang=` when the visitor chose it."""
        if self.explicit_lang and "lang" not in query:
            query = {"lang": self.lang, **query}
        return f"{path}?{urlencode(query)}" if query else path

    @property
    def next_path(self) -> str:
        url = self.request.url
        return url.path + (f"?{url.query}" if url.query else "")


def web_context(request: Request) -> WebContext:
    settings: Settings = request.app.state.settings
    viewer = read_viewer(request, settings)
    lang, explicit = negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )
    return WebContext(request, settings, viewer, access_for(settings, viewer), lang, explicit)


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir() / "web")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def safe_url(value: str | None) -> str | None:
    """Only plain http(s) links reach an href (never `javascript:`)."""
    return value if value and _URL.match(value) else None


_SIGN_IN_LABELS = {"github": "sign_in", "gitlab": "sign_in_gitlab"}  # both: "Sign in"


def render(ctx: WebContext, template: str, *, status: int = 200, **data: Any) -> HTMLResponse:
    t = ctx.t
    forges = sign_in_forges(ctx)

    def hours(value: float | None) -> str:
        return "—" if value is None else t("hours", value=t.number(value))

    def days(value: float | None) -> str:
        return "—" if value is None else t("days", value=t.number(value))

    def day(value: datetime | None) -> str:
        return t.day(value)

    values: dict[str, Any] = {
        "lang": ctx.lang,
        "languages": WEB_LANGUAGES,
        "t": t,
        "link": ctx.link,
        "path": ctx.request.url.path,
        "next_path": ctx.next_path,
        "viewer": ctx.viewer,
        "mode": ctx.access.mode if ctx.access and not ctx.viewer else None,
        "can_sign_in": bool(forges) and not ctx.settings.dashboard_open,
        "sign_in_label": _SIGN_IN_LABELS.get(",".join(forges), "signin_title"),
        "safe_url": safe_url,
        "hours": hours,
        "days": days,
        "day": day,
        "percent": t.percent,
        "org_link": lambda org, *rest, **query: ctx.link(org_path(org, *rest), **query),
        "repo_in_org": repo_in_org,
        "item_ref": item_ref,
        "short_ref": short_ref,
    }
    if ctx.settings.dashboard_open:
        values["mode"] = "open"
    values.update(data)
    body = environment().get_template(template).render(values)
    response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
    response.headers["Content-Language"] = ctx.lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


def message(
    ctx: WebContext,
    heading: str,
    text: str,
    *,
    status: int,
    action_url: str | None = None,
    action_label: str | None = None,
) -> HTMLResponse:
    return render(
        ctx,
        "message.html",
        status=status,
        heading=heading,
        text=text,
        action_url=action_url,
        action_label=action_label,
    )


def sign_in_forges(ctx: WebContext) -> list[str]:
    """The forges one can sign in with here: "github", "gitlab", both or none."""
    gitlab = getattr(ctx.request.app.state, "gitlab_settings", None)
    forges = ["github"] if oauth.configured(ctx.settings) else []
    return forges + (["gitlab"] if oauth_gitlab.configured(ctx.settings, gitlab) else [])


def unconfigured(ctx: WebContext, status: int) -> HTMLResponse:
    """No sign-in configured: the page names the settings of both forges."""
    return message(ctx, ctx.t("signin_title"), ctx.t("signin_unconfigured"), status=status)


def sign_in_page(ctx: WebContext) -> Response:
    """Sign in first (never a glimpse of what is behind): off to `/auth/login`, which comes
    back here afterwards; a 401 page when sign-in is not configured."""
    if not sign_in_forges(ctx):
        return unconfigured(ctx, 401)
    target = "/auth/login?" + urlencode({"next": ctx.next_path})
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})


def not_found(ctx: WebContext, text: str | None = None) -> HTMLResponse:
    t = ctx.t
    return message(
        ctx,
        t("not_found_title"),
        text or t("not_found_text"),
        status=404,
        action_url=ctx.link("/"),
        action_label=t("back_home"),
    )
