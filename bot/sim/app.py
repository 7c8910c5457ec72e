"""`create_forge_app(forge)`: the FastAPI app serving the forge's REST (and GraphQL) API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.sim import (
    routes_app,
    routes_issues,
    routes_manifest,
    routes_oauth,
    routes_pages,
    routes_people,
    routes_pulls,
    routes_repos,
    routes_search,
)
from bot.sim.forge import Forge
from bot.sim.middleware import ForgeMiddleware
from bot.sim.rest import GitHubError, validation_failed

ROUTE_MODULES = (
    routes_app,
    routes_repos,
    routes_issues,
    routes_pulls,
    routes_people,
    routes_search,
    routes_manifest,  # the App's manifest conversion and webhook configuration
)


# The App's OAuth flow and the user-to-server routes: served, but listed apart because the
# shared OpenAPI exercise does not sign users in (tests/test_web_oauth.py checks their shapes).
OAUTH_ROUTERS = (routes_oauth.router, routes_oauth.web_router)
# github.com pages of the App manifest flow (`veilleur setup`): not REST, so not described.
WEB_ROUTERS = (routes_manifest.web_router,)
# github.com's pages of issues and pull requests (the demo's dashboard links to them).
PAGE_ROUTERS = (routes_pages.router,)


def forge_routes() -> list[APIRoute]:
    """Every route the forge serves (read from our routers: FastAPI may wrap included ones)."""
    return [r for m in ROUTE_MODULES for r in m.router.routes if isinstance(r, APIRoute)]


async def _github_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GitHubError)
    return exc.response()


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    """Unknown routes and methods: GitHub answers 404 with its usual body."""
    assert isinstance(exc, StarletteHTTPException)
    status = 404 if exc.status_code in (404, 405) else exc.status_code
    return GitHubError(status, "Not Found" if status == 404 else str(exc.detail)).response()


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    field = str(first.get("loc", ["", "?"])[-1])
    return validation_failed("Request", field, "invalid").response()


def create_forge_app(forge: Forge) -> FastAPI:
    app = FastAPI(title="simforge", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.forge = forge
    for module in ROUTE_MODULES:
        app.include_router(module.router)
    for oauth_router in OAUTH_ROUTERS:
        app.include_router(oauth_router)
    for web_router in WEB_ROUTERS:
        app.include_router(web_router)
    for page_router in PAGE_ROUTERS:
        app.include_router(page_router)
    app.add_exception_handler(GitHubError, _github_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(ForgeMiddleware, forge=forge)
    return app
