"""What every REST route shares: GitHub-style errors, authentication, repository access,
JSON bodies and `page`/`per_page` pagination with a `Link` header."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl, urlencode

import jwt
from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from bot.sim.models import App, Installation, Repo

if TYPE_CHECKING:
    from bot.sim.forge import Forge

DOCS = "https://docs.github.com/rest"
CACHE_CONTROL = "private, max-age=60, s-maxage=60"  # what GitHub sends with contents
MAX_JWT_LIFETIME = 600


class GitHubError(Exception):
    """Answered as GitHub does: {"message", "documentation_url", "status"} (+ "errors")."""

    def __init__(
        self, status: int, message: str, *, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message, "documentation_url": DOCS}
        if self.errors is not None:
            body["errors"] = self.errors
        body["status"] = str(self.status)
        return JSONResponse(body, status_code=self.status)


def conditional(request: Request, body: Any) -> Response:
    """`body` with its `ETag` (a digest of what is served, as GitHub's is), or, when the
    request's `If-None-Match` names that tag (or `*`), `304 Not Modified` with no body: the
    answer GitHub gives a conditional request, and does not count against the rate limit."""
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    tag = f'"{hashlib.sha1(raw, usedforsecurity=False).hexdigest()}"'
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept, Authorization"}
    asked = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in asked.split(",") if t.strip()}
    if tag in tags or "*" in tags:
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)


def not_found() -> GitHubError:
    return GitHubError(404, "Not Found")


def validation_failed(resource: str, field: str, code: str) -> GitHubError:
    errors = [{"resource": resource, "code": code, "field": field}]
    return GitHubError(422, "Validation Failed", errors=errors)


# -- dependencies ----------------------------------------------------------------------------
def get_forge(request: Request) -> Forge:
    forge: Forge = request.app.state.forge
    return forge


if TYPE_CHECKING:
    ForgeDep = Forge
else:  # FastAPI only needs the Depends marker; the class would be a circular import
    ForgeDep = Annotated[Any, Depends(get_forge)]


def _credentials(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") else ""


def app_auth(request: Request, forge: ForgeDep) -> App:
    """The App, from an RS256 JWT signed with its private key (checked with the public one)."""
    token = _credentials(request)
    the_app = forge.the_app
    try:
        claims = jwt.decode(
            token,
            the_app.public_pem,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_iss": False},
            leeway=60,
        )
    except jwt.PyJWTError:
        raise GitHubError(401, "A JSON web token could not be decoded") from None
    if str(claims["iss"]) not in (str(the_app.id), the_app.client_id):
        raise GitHubError(401, "'Issuer' claim ('iss') must be an Integer")
    if int(claims["exp"]) - int(claims["iat"]) > MAX_JWT_LIFETIME:
        raise GitHubError(401, "'Expiration time' claim ('exp') is too far in the future")
    return the_app


def installation_auth(request: Request, forge: ForgeDep) -> Installation:
    """The installation behind an `Authorization: token ghs_…` header; 401 otherwise."""
    inst = forge.token_installation(_credentials(request))
    if inst is None:
        raise GitHubError(401, "Bad credentials")
    return inst


AppDep = Annotated[App, Depends(app_auth)]
InstallationDep = Annotated[Installation, Depends(installation_auth)]


def readable_repo(owner: str, repo: str, forge: ForgeDep, inst: InstallationDep) -> Repo:
    """Installation tokens read installed repositories and any public one; else 404."""
    found = forge.repos.get(f"{owner}/{repo}".lower())
    if found is None or (found.private and not forge.covers(inst, found)):
        raise not_found()
    return found


def writable_repo(owner: str, repo: str, forge: ForgeDep, inst: InstallationDep) -> Repo:
    """Writes need the repository to be in the installation (403 otherwise, as on GitHub)."""
    found = readable_repo(owner, repo, forge, inst)
    if not forge.covers(inst, found):
        raise GitHubError(403, "Resource not accessible by integration")
    return found


ReadRepo = Annotated[Repo, Depends(readable_repo)]
WriteRepo = Annotated[Repo, Depends(writable_repo)]


# -- bodies and pages ------------------------------------------------------------------------
async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise GitHubError(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise GitHubError(400, "Problems parsing JSON")
    return data


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        value = default
    return max(low, min(high, value))


def slice_page(request: Request, items: Sequence[Any]) -> tuple[list[Any], dict[str, str]]:
    """One page (`page`, `per_page` ≤ 100, default 30) and GitHub's `Link` header."""
    per_page = int_param(request, "per_page", 30, 1, 100)
    number = int_param(request, "page", 1, 1, 10**6)
    last = max(1, -(-len(items) // per_page))
    chunk = list(items[(number - 1) * per_page : number * per_page])
    links = link_header(request, number, last)
    return chunk, ({"link": links} if links else {})


def page(request: Request, items: Sequence[Any], status: int = 200) -> JSONResponse:
    chunk, headers = slice_page(request, items)
    return JSONResponse(chunk, status_code=status, headers=headers)


def page_url(request: Request, **params: Any) -> str:
    query = dict(parse_qsl(request.url.query)) | {k: str(v) for k, v in params.items()}
    return str(request.url.replace(query=urlencode(query)))


def link_header(request: Request, number: int, last: int) -> str:
    rels: list[tuple[str, int]] = []
    if number > 1:
        rels += [("prev", number - 1), ("first", 1)]
    if number < last:
        rels += [("next", number + 1), ("last", last)]
    return ", ".join(f'<{page_url(request, page=n)}>; rel="{rel}"' for rel, n in rels)
