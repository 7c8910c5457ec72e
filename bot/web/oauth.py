"""Sign-in with a forge's OAuth code flow: the `Provider` interface the one flow of
bot/web/auth.py runs on (the `state` cookie, the callback's checks, the failure pages and the
session are the flow's), the code exchange both forges share, and GitHub's provider.

GitHub's code is exchanged for a user-to-server token, which reads the user, the App's
installations they can access and, per installation, the repositories they have explicit
access to. The token is then dropped: only logins and names go in the session.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from bot.github.user_access import user_access
from bot.settings import Settings
from bot.web.session import Viewer

log = logging.getLogger(__name__)


class SignInError(Exception):
    """The sign-in could not be completed; the message is safe to show."""


class Provider(ABC):
    """What one forge's sign-in supplies: where the browser is sent, how the code is redeemed,
    what the token's user may see, and the few words and paths that differ."""

    forge: str  # tags the `state` cookie, so another forge's callback refuses it
    name: str  # in the messages shown ("GitHub could not be reached…")
    label: str  # in the log lines ("" for GitHub's, which predate GitLab's)
    unit: str  # what a viewer sees, in the sign-in's log line
    callback_path: str  # where the forge sends the browser back
    retry_path: str  # a failed sign-in's "try again"
    denied: str  # the text (key) when the person cancels at the forge

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def callback_url(self, request_base: str) -> str:
        base = (self.settings.public_url or request_base).rstrip("/")
        return f"{base}{self.callback_path}"

    @abstractmethod
    def authorize_url(self, redirect_uri: str, state: str) -> str: ...

    @abstractmethod
    async def exchange_code(self, code: str, redirect_uri: str, state: str) -> str:
        """The user's token for an authorisation code (`state`: the sign-in it belongs to)."""

    @abstractmethod
    async def fetch_viewer(self, token: str) -> Viewer:
        """Who the token's user is and what they may see."""

    async def redeem(
        self, url: str, app: tuple[str | None, SecretStr | None], seconds: float, **fields: str
    ) -> str:
        """The access token the forge's token endpoint `url` gives the OAuth `app` (client id,
        secret) for the code in `fields`."""
        client_id, secret = app
        assert secret is not None
        form = {"client_id": client_id or "", "client_secret": secret.get_secret_value()} | fields
        what = f"{self.label} OAuth".lstrip()
        try:
            async with httpx.AsyncClient(timeout=seconds) as client:
                response = await client.post(url, data=form, headers={"Accept": "application/json"})
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("%s code exchange failed: %s", what, exc)
            raise SignInError(f"{self.name} could not be reached to finish signing in.") from None
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            error = data.get("error") if isinstance(data, dict) else None
            log.warning("%s code exchange refused: %s", what, error or response.status_code)
            raise SignInError(f"{self.name} refused the sign-in code; please sign in again.")
        return str(data["access_token"])


def configured(settings: Settings) -> bool:
    return bool(
        settings.oauth_client_id and settings.oauth_client_secret and settings.session_secret
    )


class GitHub(Provider):
    forge, name, label, unit = "github", "GitHub", "", "repositories"
    callback_path, retry_path, denied = "/auth/callback", "/auth/login", "signin_denied"

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "client_id": self.settings.oauth_client_id or "",
                "redirect_uri": redirect_uri,
                "state": state,
                "allow_signup": "false",
            }
        )
        return f"{self.settings.github_web_url.rstrip('/')}/login/oauth/authorize?{query}"

    async def exchange_code(self, code: str, redirect_uri: str, state: str) -> str:
        settings = self.settings
        url = f"{settings.github_web_url.rstrip('/')}/login/oauth/access_token"
        app = (settings.oauth_client_id, settings.oauth_client_secret)
        seconds = settings.github_timeout_seconds
        return await self.redeem(url, app, seconds, code=code, redirect_uri=redirect_uri)

    async def fetch_viewer(self, token: str) -> Viewer:
        """The user and the installed repositories they may see."""
        try:
            login, repos = await user_access(self.settings, token)
        except Exception as exc:  # githubkit raises its own errors, and pydantic's on odd shapes
            log.warning("reading the user's access failed: %s", exc)
            raise SignInError("GitHub could not tell which repositories you can access.") from None
        return Viewer(login, {org: frozenset(names) for org, names in repos.items()})
