"""The simulated GitLab's OAuth 2.0 provider (GitLab's is Doorkeeper), for the dashboard's
sign-in: one registered application, the authorization code flow with PKCE, and user tokens
that the REST API accepts as `Authorization: Bearer`.

- `GET /oauth/authorize?client_id&redirect_uri&response_type=code&state&scope
  &code_challenge&code_challenge_method`: the redirect URI must be one the application
  registered (else an error page, never a redirect); a signed-in browser
  (`oauth(world).signed_in`, or the `username` the sign-in form sends) goes back with `code`
  and `state`; a bad scope, response type or challenge method goes back with `error`.
- `POST /oauth/token` (form or JSON; grant_type=authorization_code, client_id,
  client_secret, code, redirect_uri, code_verifier): a code is used once, expires after 10
  minutes and, when it was asked with a challenge, needs the verifier whose S256 digest it is.
  Errors are Doorkeeper's: 401 `invalid_client`, 400 `invalid_grant`.
- A token carries its scopes: `read_api` reads, and only `api` may write.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from bot.sim.browser_flow import PerForge, hidden_inputs, with_query
from bot.sim.gitlab.world import GitLabWorld

CODE_SECONDS = 600
TOKEN_SECONDS = 7200  # GitLab's access tokens live two hours
SCOPES = frozenset({"api", "read_api", "read_user", "openid", "profile", "email"})
Answer = tuple[int, Any, dict[str, str]]
_HTML = {"Content-Type": "text/html; charset=utf-8"}
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication "
    "included, or unsupported authentication method."
)
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)


@dataclass
class Grant:
    user_id: int
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str | None
    expires_at: float


@dataclass
class OAuthApp:
    """The one application registered on the instance, and what it issued."""

    client_id: str = "gl-sim-client-id"
    client_secret: str = "gloas-simulated-secret"  # noqa: S105 (a test double)
    redirect_uris: list[str] = field(default_factory=list)
    signed_in: str | None = None  # the username the simulated browser is signed in as
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[int, frozenset[str], float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def token_user(self, token: str) -> tuple[int, frozenset[str]] | None:
        """(user id, scopes) of a live token."""
        with self.lock:
            found = self.tokens.get(token)
        if found is None or found[2] < time.time():
            return None
        return found[0], found[1]


_APPS = PerForge(OAuthApp)


def oauth(world: GitLabWorld) -> OAuthApp:
    """The OAuth application of a simulated instance (created on first use)."""
    return _APPS(world)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


_SIGN_IN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in · GitLab</title></head><body><h1>Authorize {name}?</h1>{error}
<form method="get" action="/oauth/authorize">{hidden}
<label>Username <input name="username" autocomplete="username" required></label>
<button type="submit" id="authorize">Authorize</button></form></body></html>"""


def authorize(world: GitLabWorld, params: dict[str, str]) -> Answer:
    app = oauth(world)
    if params.get("client_id") != app.client_id:
        return 401, _page("Client authentication failed due to unknown client."), _HTML
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return 400, _page("The redirect URI included is not valid."), _HTML
    state = {"state": params["state"]} if "state" in params else {}
    scopes = frozenset((params.get("scope") or "").split())
    method = params.get("code_challenge_method", "plain")
    error = (
        "unsupported_response_type" if params.get("response_type") != "code"
        else "invalid_scope" if not scopes or not scopes <= SCOPES
        else "invalid_request" if params.get("code_challenge") and method != "S256"
        else None
    )  # fmt: skip
    if error:
        return 302, b"", {"Location": with_query(redirect_uri, error=error, **state)}
    username = params.pop("username", "") or app.signed_in or ""
    user = next(
        (u for u in world.users.values() if u["username"].lower() == username.lower()), None
    )
    if user is None or user["bot"]:
        wrong = f"<p>No user {html.escape(username)}.</p>" if username else ""
        body = _SIGN_IN.format(name="Veilleur", hidden=hidden_inputs(params), error=wrong)
        return 200, body.encode(), _HTML
    code = secrets.token_hex(32)
    with app.lock:
        app.codes[code] = Grant(
            int(user["id"]),
            redirect_uri,
            scopes,
            params.get("code_challenge") or None,
            time.time() + CODE_SECONDS,
        )
    return 302, b"", {"Location": with_query(redirect_uri, code=code, **state)}


def _page(text: str) -> bytes:
    return (
        f"<!doctype html><title>GitLab</title><h1>An error has occurred</h1><p>{text}</p>".encode()
    )


def _form(body: bytes, headers: dict[str, str]) -> dict[str, str]:
    raw = body.decode("utf-8", "replace")
    if "json" in headers.get("content-type", ""):
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(raw))


def token(world: GitLabWorld, body: bytes, headers: dict[str, str]) -> Answer:
    app, form = oauth(world), _form(body, headers)
    secret_ok = secrets.compare_digest(form.get("client_secret", ""), app.client_secret)
    if form.get("client_id") != app.client_id or not secret_ok:
        return 401, {"error": "invalid_client", "error_description": INVALID_CLIENT}, {}
    if form.get("grant_type") != "authorization_code":
        return 400, {"error": "unsupported_grant_type", "error_description": "Unsupported."}, {}
    with app.lock:
        grant = app.codes.pop(form.get("code", ""), None)
    verifier = form.get("code_verifier", "")
    if (
        grant is None
        or grant.expires_at < time.time()
        or form.get("redirect_uri") != grant.redirect_uri
        or (
            grant.challenge is not None
            and not secrets.compare_digest(s256(verifier), grant.challenge)
        )
    ):
        return 400, {"error": "invalid_grant", "error_description": INVALID_GRANT}, {}
    access = secrets.token_hex(32)
    with app.lock:
        app.tokens[access] = (grant.user_id, grant.scopes, time.time() + TOKEN_SECONDS)
    return 200, {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": TOKEN_SECONDS,
        "refresh_token": secrets.token_hex(32),
        "scope": " ".join(sorted(grant.scopes)),
        "created_at": int(time.time()),
    }, {}  # fmt: skip
