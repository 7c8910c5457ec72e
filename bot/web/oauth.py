"""Sign-in with GitHub: the App's OAuth web flow and what the user may see.

The code is exchanged for a user-to-server token, which reads the user, the App's
installations they can access and, per installation, the repositories they have explicit
access to. The token is then dropped: only logins and names go in the session.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import httpx
from githubkit import GitHub, TokenAuthStrategy

from bot.settings import Settings
from bot.web.session import Viewer

log = logging.getLogger(__name__)

MAX_PAGES = 50  # 5,000 installations or repositories per installation


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


def _user_client(settings: Settings, token: str) -> GitHub[TokenAuthStrategy]:
    return GitHub(
        TokenAuthStrategy(token),
        base_url=settings.github_api_url.rstrip("/") + "/",
        timeout=settings.github_timeout_seconds,
        user_agent="veilleur",
        http_cache=False,
    )


async def fetch_viewer(settings: Settings, token: str) -> Viewer:
    """Who the token's user is and which installed repositories they may see."""
    gh = _user_client(settings, token)
    try:
        login = (await gh.rest.users.async_get_authenticated()).parsed_data.login
        repos: dict[str, set[str]] = {}
        for page in range(1, MAX_PAGES + 1):
            found = await gh.rest.apps.async_list_installations_for_authenticated_user(
                per_page=100, page=page
            )
            installations = found.parsed_data.installations
            for inst in installations:
                await _add_repos(gh, inst.id, repos)
            if len(installations) < 100:
                break
    except Exception as exc:  # githubkit raises its own errors, and pydantic's on odd shapes
        log.warning("reading the user's access failed: %s", exc)
        raise SignInError("GitHub could not tell which repositories you can access.") from None
    return Viewer(login, {org: frozenset(names) for org, names in repos.items()})


async def _add_repos(gh: GitHub[TokenAuthStrategy], inst_id: int, out: dict[str, set[str]]) -> None:
    for page in range(1, MAX_PAGES + 1):
        found = await gh.rest.apps.async_list_installation_repos_for_authenticated_user(
            inst_id, per_page=100, page=page
        )
        batch = found.parsed_data.repositories
        for repo in batch:
            owner, _, name = repo.full_name.lower().partition("/")
            out.setdefault(owner, set()).add(name)
        if len(batch) < 100:
            return
