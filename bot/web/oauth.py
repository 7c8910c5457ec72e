"""Sign-in with GitHub: the App's OAuth web flow and what the user may see.

The code is exchanged for a user-to-server token, which reads the user, the App's
installations they can access and, per installation, the repositories they have explicit
access to. The token is then dropped: only logins and names go in the session.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import httpx

from bot.github.user_access import user_access
from bot.settings import Settings
from bot.web.session import Viewer

log = logging.getLogger(__name__)


class SignInError(Exception):
    """The sign-in could not be completed; the message is safe to show."""


def configured(settings: Settings) -> bool:
    return bool(
        settings.oauth_client_id and settings.oauth_client_secret and settings.session_secret
    )


def callback_url(settings: Settings, request_base: str) -> str:
    base = (settings.public_url or request_base).rstrip("/")
    return f"{base}/auth/callback"


def authorize_url(settings: Settings, redirect_uri: str, state: str) -> str:
    query = urlencode(
        {
            "client_id": settings.oauth_client_id or "",
            "redirect_uri": redirect_uri,
            "state": state,
            "allow_signup": "false",
        }
    )
    return f"{settings.github_web_url.rstrip('/')}/login/oauth/authorize?{query}"


async def exchange_code(settings: Settings, code: str, redirect_uri: str) -> str:
    """The user-to-server token for an authorisation code."""
    assert settings.oauth_client_secret is not None
    url = f"{settings.github_web_url.rstrip('/')}/login/oauth/access_token"
    form = {
        "client_id": settings.oauth_client_id or "",
        "client_secret": settings.oauth_client_secret.get_secret_value(),
        "code": code,
        "redirect_uri": redirect_uri,
    }
    try:
        async with httpx.AsyncClient(timeout=settings.github_timeout_seconds) as client:
            response = await client.post(url, data=form, headers={"Accept": "application/json"})
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("OAuth code exchange failed: %s", exc)
        raise SignInError("GitHub could not be reached to finish signing in.") from None
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        error = data.get("error") if isinstance(data, dict) else None
        log.warning("OAuth code exchange refused: %s", error or response.status_code)
        raise SignInError("GitHub refused the sign-in code; please sign in again.")
    return str(data["access_token"])


async def fetch_viewer(settings: Settings, token: str) -> Viewer:
    """Who the token's user is and which installed repositories they may see."""
    try:
        login, repos = await user_access(settings, token)
    except Exception as exc:  # githubkit raises its own errors, and pydantic's on odd shapes
        log.warning("reading the user's access failed: %s", exc)
        raise SignInError("GitHub could not tell which repositories you can access.") from None
    return Viewer(login, {org: frozenset(names) for org, names in repos.items()})
