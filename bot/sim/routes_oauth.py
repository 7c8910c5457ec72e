"""The App's OAuth web flow and the user-to-server endpoints the dashboard's sign-in uses.

Web flow (served where `VEILLEUR_GITHUB_WEB_URL` points):
- `GET /login/oauth/authorize?client_id&redirect_uri&state[&login]`: when the forge's browser
  is signed in (`oauth(forge).signed_in`, or the `login` parameter, which the forge's own
  sign-in form sends) it redirects back to `redirect_uri` with `code` and `state`, as GitHub
  does for a user who already authorised the App; otherwise it shows that sign-in form.
- `POST /login/oauth/access_token` (form or JSON: client_id, client_secret, code,
  redirect_uri): a `ghu_…` token, JSON with `Accept: application/json`, else form-encoded;
  errors are 200s with `error`, like GitHub's.

REST, with `Authorization: Bearer ghu_…` (shapes checked against GitHub's OpenAPI file):
`GET /user`, `GET /user/installations`, `GET /user/installations/{id}/repositories` list
what the user has *explicit* access to (owner, collaborator, org member): a public repository
is not listed just because anyone can read it.
"""

from __future__ import annotations

import html
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot.sim import shapes
from bot.sim.browser_flow import PerForge, hidden_inputs, with_query
from bot.sim.models import ROLES, Installation, Repo
from bot.sim.rest import ForgeDep, GitHubError, not_found, slice_page

if TYPE_CHECKING:
    from bot.sim.forge import Forge

router = APIRouter()
web_router = APIRouter()  # github.com pages: not part of the REST description

CODE_SECONDS = 600
USER_TOKEN_SECONDS = 8 * 3600
OAUTH_DOCS = (
    "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-oauth-app-access-token-request-errors"
)


@dataclass
class Grant:
    login: str
    redirect_uri: str
    expires_at: float


@dataclass
class OAuthState:
    """The forge's OAuth side: the App's client secret, codes and user tokens issued."""

    client_secret: str = "simforge-client-secret"  # noqa: S105 (a test double)
    signed_in: str | None = None  # the login the forge's browser session is signed in as
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (login, exp)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def token_login(self, token: str) -> str | None:
        with self.lock:
            found = self.tokens.get(token)
        if found is None or found[1] < time.time():
            return None
        return found[0]


_STATES = PerForge(OAuthState)


def oauth(forge: Forge) -> OAuthState:
    """The OAuth state of a forge (created on first use)."""
    return _STATES(forge)


def _random(prefix: str, size: int = 36) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(size))


# -- access rules ------------------------------------------------------------------------------
def explicit_role(forge: Forge, repo: Repo, login: str) -> str | None:
    """Owner, collaborator or org-member access; never the read anyone has on public repos."""
    low = login.lower()
    if repo.owner.lower() == low:
        return "admin"
    found = [repo.permissions.get(low)]
    org = forge.org_of(repo)
    membership = org.members.get(low) if org else None
    if org and membership and membership.state == "active":
        found.append("admin" if membership.role == "admin" else org.base_permission)
    ranked = [r for r in found if r in ROLES]
    return min(ranked, key=ROLES.index) if ranked else None


def _permissions(role: str) -> dict[str, bool]:
    rank = ROLES.index(role)
    return {
        "admin": rank <= ROLES.index("admin"),
        "maintain": rank <= ROLES.index("maintain"),
        "push": rank <= ROLES.index("write"),
        "triage": rank <= ROLES.index("triage"),
        "pull": True,
    }


def _user_repos(forge: Forge, inst: Installation, login: str) -> list[tuple[Repo, str]]:
    out = []
    for repo in sorted(forge.repos.values(), key=lambda r: r.full_name.lower()):
        if forge.covers(inst, repo):
            role = explicit_role(forge, repo, login)
            if role is not None:
                out.append((repo, role))
    return out


def _user_login(request: Request, forge: Forge) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    bearer = scheme.lower() in ("token", "bearer")
    login = oauth(forge).token_login(value.strip()) if bearer else None
    if login is None:
        raise GitHubError(401, "Bad credentials")
    return login


# -- the web flow ------------------------------------------------------------------------------
_SIGN_IN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in to simforge</title><link rel="icon" href="data:,"></head><body>
<h1>Sign in to simforge to continue to {app}</h1>{error}
<form method="get" action="/login/oauth/authorize">{hidden}
<label>Username <input name="login" autocomplete="username" required></label>
<button type="submit" id="authorize">Authorize {app}</button></form></body></html>"""


@web_router.get("/login/oauth/authorize", response_model=None)
async def authorize(request: Request, forge: ForgeDep) -> Response:
    params = dict(request.query_params)
    the_app = forge.the_app
    if params.get("client_id") != the_app.client_id:
        return HTMLResponse("<h1>404: this application does not exist</h1>", status_code=404)
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        return HTMLResponse("<h1>The redirect_uri is not valid</h1>", status_code=400)
    state = oauth(forge)
    login = params.pop("login", "") or state.signed_in or ""
    with forge.lock:
        user = forge.users.get(login.lower()) if login else None
    if user is None or user.type != "User":
        error = f"<p>No user {html.escape(login)}.</p>" if login else ""
        hidden = hidden_inputs(params)
        page = _SIGN_IN_PAGE.format(app=html.escape(the_app.name), hidden=hidden, error=error)
        return HTMLResponse(page)
    code = _random("", 20).lower()
    with state.lock:
        state.codes[code] = Grant(user.login, redirect_uri, time.time() + CODE_SECONDS)
    back = {"code": code} | ({"state": params["state"]} if "state" in params else {})
    return RedirectResponse(with_query(redirect_uri, **back), status_code=302)


async def _form(request: Request) -> dict[str, str]:
    raw = (await request.body()).decode("utf-8", "replace")
    if "json" in request.headers.get("content-type", ""):
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(raw)) | dict(request.query_params)


def _token_answer(request: Request, body: dict[str, Any]) -> Response:
    if "json" in request.headers.get("accept", ""):
        return JSONResponse(body)
    return Response(urlencode(body), media_type="application/x-www-form-urlencoded")


@web_router.post("/login/oauth/access_token", response_model=None)
async def access_token(request: Request, forge: ForgeDep) -> Response:
    form = await _form(request)
    state = oauth(forge)
    secret_ok = secrets.compare_digest(form.get("client_secret", ""), state.client_secret)
    if form.get("client_id") != forge.the_app.client_id or not secret_ok:
        return _token_answer(request, _error("incorrect_client_credentials"))
    with state.lock:
        grant = state.codes.pop(form.get("code", ""), None)
    if grant is None or grant.expires_at < time.time():
        return _token_answer(request, _error("bad_verification_code"))
    if form.get("redirect_uri") and form["redirect_uri"] != grant.redirect_uri:
        return _token_answer(request, _error("redirect_uri_mismatch"))
    token = _random("ghu_")
    with state.lock:
        state.tokens[token] = (grant.login, time.time() + USER_TOKEN_SECONDS)
    body = {
        "access_token": token,
        "expires_in": USER_TOKEN_SECONDS,
        "refresh_token": _random("ghr_", 76),
        "refresh_token_expires_in": 15_897_600,
        "scope": "",
        "token_type": "bearer",
    }
    return _token_answer(request, body)


_ERRORS = {
    "incorrect_client_credentials": "The client_id and/or client_secret passed are incorrect.",
    "bad_verification_code": "The code passed is incorrect or expired.",
    "redirect_uri_mismatch": "The redirect_uri MUST match the registered callback URL for "
    "this application.",
}


def _error(code: str) -> dict[str, Any]:
    return {"error": code, "error_description": _ERRORS[code], "error_uri": OAUTH_DOCS}


# -- user-to-server REST -----------------------------------------------------------------------
@router.get("/user")
async def authenticated_user(request: Request, forge: ForgeDep) -> JSONResponse:
    login = _user_login(request, forge)
    with forge.lock:
        body = shapes.public_user(forge, login) | {"user_view_type": "public"}
    return JSONResponse(body)


@router.get("/user/installations")
async def user_installations(request: Request, forge: ForgeDep) -> JSONResponse:
    login = _user_login(request, forge)
    with forge.lock:
        found = [
            shapes.installation(forge, inst)
            for inst in sorted(forge.installations.values(), key=lambda i: i.id)
            if _user_repos(forge, inst, login)
        ]
    chunk, headers = slice_page(request, found)
    return JSONResponse({"total_count": len(found), "installations": chunk}, headers=headers)


@router.get("/user/installations/{installation_id}/repositories")
async def user_installation_repos(
    installation_id: int, request: Request, forge: ForgeDep
) -> JSONResponse:
    login = _user_login(request, forge)
    with forge.lock:
        inst = forge.installations.get(installation_id)
        pairs = _user_repos(forge, inst, login) if inst else []
        if inst is None or not pairs:
            raise not_found()
        repos = [
            shapes.repository(forge, repo, flavor="rest") | {"permissions": _permissions(role)}
            for repo, role in pairs
        ]
    chunk, headers = slice_page(request, repos)
    body = {
        "total_count": len(repos),
        "repository_selection": inst.repository_selection,
        "repositories": chunk,
    }
    return JSONResponse(body, headers=headers)
