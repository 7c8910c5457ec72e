"""Sign-in with GitLab: the authorization code flow with PKCE (S256) and scope `read_api`,
then what the user may see (bot/gitlab/user_access.py, bot/web/access_gitlab.py). The token
is dropped after that, as with GitHub. This module is GitLab's `Provider`; the flow around it
(state cookie, callback, failure pages, session) is bot/web/auth.py's.

The PKCE verifier never leaves the server and is stored nowhere: it is an HMAC of the OAuth
`state` under `VEILLEUR_SESSION_SECRET`, computed again at the callback. Only the challenge
(its SHA-256) goes through the browser; someone holding a stolen code and its state still
cannot redeem it, and every replica of Veilleur computes the same verifier.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from urllib.parse import urlencode

import httpx
from sqlalchemy.engine import Engine

from bot.gitlab.settings import GitLabSettings
from bot.gitlab.user_access import memberships
from bot.settings import Settings
from bot.web.access_gitlab import visible_paths
from bot.web.oauth import Provider, SignInError
from bot.web.session import Viewer

log = logging.getLogger(__name__)

SCOPE = "read_api"


def configured(settings: Settings, gitlab: GitLabSettings | None) -> bool:
    return bool(gitlab and gitlab.oauth_configured and settings.session_secret)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def verifier(settings: Settings, state: str) -> str:
    """43 characters (RFC 7636's minimum, 256 bits), bound to this sign-in's state."""
    assert settings.session_secret is not None
    key = settings.session_secret.get_secret_value().encode()
    return _b64(hmac.new(key, b"veilleur.pkce\0" + state.encode(), hashlib.sha256).digest())


def challenge(code_verifier: str) -> str:
    return _b64(hashlib.sha256(code_verifier.encode("ascii")).digest())


class GitLab(Provider):
    forge, name, label, unit = "gitlab", "GitLab", "GitLab", "projects"
    callback_path, retry_path = "/auth/gitlab/callback", "/auth/gitlab/login"
    denied = "signin_denied_gitlab"

    def __init__(self, settings: Settings, gitlab: GitLabSettings, engine: Engine) -> None:
        super().__init__(settings)
        self.gitlab, self.engine = gitlab, engine

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "client_id": self.gitlab.oauth_client_id or "",
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "state": state,
                "scope": SCOPE,
                "code_challenge": challenge(verifier(self.settings, state)),
                "code_challenge_method": "S256",
            }
        )
        return f"{(self.gitlab.url or '').rstrip('/')}/oauth/authorize?{query}"

    async def exchange_code(self, code: str, redirect_uri: str, state: str) -> str:
        gitlab = self.gitlab
        url = f"{(gitlab.url or '').rstrip('/')}/oauth/token"
        return await self.redeem(
            url, (gitlab.oauth_client_id, gitlab.oauth_secret), gitlab.timeout_seconds,
            grant_type="authorization_code", code=code, redirect_uri=redirect_uri,
            code_verifier=verifier(self.settings, state),
        )  # fmt: skip

    async def fetch_viewer(self, token: str) -> Viewer:
        """The user and the recorded projects of the instance they may see."""
        gitlab = self.gitlab
        try:
            member = await memberships(gitlab, token)
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            log.warning("reading the GitLab user's memberships failed: %s", exc)
            raise SignInError("GitLab could not tell which projects you can access.") from None
        paths = await asyncio.to_thread(visible_paths, self.engine, gitlab.host, member)
        return Viewer(member.username, {gitlab.host: paths} if paths else {})
