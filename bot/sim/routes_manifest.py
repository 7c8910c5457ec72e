# SPDX-License-Identifier: EUPL-1.2
"""Registering an App from a manifest, and the App's webhook configuration.

Web flow (github.com pages, served where `VEILLEUR_GITHUB_WEB_URL` points), as GitHub runs it:
- `POST /settings/apps/new?state=…` or `POST /organizations/{org}/settings/apps/new?state=…`
  with a form field `manifest` (JSON): a page showing the App to create, with one button;
- the button posts to `/settings/apps/new/confirm`, which redirects the browser to the
  manifest's `redirect_url` with `code` and `state`.

REST (shapes checked against GitHub's OpenAPI file):
- `POST /app-manifests/{code}/conversions` (no authentication; a code works once, for one
  hour): the new App with its `pem`, `webhook_secret`, `client_id` and `client_secret`. The
  new App replaces the forge's App, so the credentials it hands out are the ones that work.
- `GET /app/hook/config`: the App's webhook URL, content type and whether a secret is set.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot.sim import shapes
from bot.sim.browser_flow import PerForge, hidden_inputs, with_query
from bot.sim.keys import generate_app_keypair
from bot.sim.rest import AppDep, ForgeDep, GitHubError, not_found
from bot.sim.routes_oauth import oauth

if TYPE_CHECKING:
    from bot.sim.forge import Forge

router = APIRouter()
web_router = APIRouter()

CODE_SECONDS = 3600


@dataclass
class PendingApp:
    manifest: dict[str, Any]
    owner: str
    expires_at: float


@dataclass
class ManifestState:
    """Codes not yet converted, and the webhook settings GitHub keeps beside the URL."""

    codes: dict[str, PendingApp] = field(default_factory=dict)
    content_type: str = "json"
    insecure_ssl: str = "0"
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATES = PerForge(ManifestState)


def manifest_state(forge: Forge) -> ManifestState:
    """The manifest side of a forge (created on first use); tests change `content_type`."""
    return _STATES(forge)


def _problem(manifest: Any) -> str | None:
    """Why GitHub would refuse this manifest (None: acceptable)."""
    if not isinstance(manifest, dict):
        return "The manifest must be a JSON object."
    hook = manifest.get("hook_attributes")
    if not isinstance(hook, dict) or not str(hook.get("url", "")).startswith("http"):
        return "hook_attributes.url is required."
    if not str(manifest.get("url", "")).startswith("http"):
        return "url is required."
    redirect = str(manifest.get("redirect_url", ""))
    if not redirect.startswith(("http://", "https://")):
        return "redirect_url must be an http(s) URL."
    return None


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the browser's POST), without python-multipart."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


_CONFIRM_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Create GitHub App</title><link rel="icon" href="data:,"></head><body>
<h1>Create GitHub App for {owner}</h1><p>{name}: webhook {hook}</p>
<form method="post" action="/settings/apps/new/confirm">{hidden}
<button type="submit" id="create">Create GitHub App for {owner}</button></form></body></html>"""


async def _new_app_page(request: Request, forge: Forge, owner: str) -> Response:
    form = await _form(request)
    try:
        manifest = json.loads(str(form.get("manifest", "")))
    except ValueError:
        manifest = None
    problem = _problem(manifest)
    if problem is not None:
        return HTMLResponse(f"<h1>Invalid manifest</h1><p>{html.escape(problem)}</p>", 422)
    fields = {
        "manifest": json.dumps(manifest),
        "owner": owner,
        "state": request.query_params.get("state", ""),
    }
    page = _CONFIRM_PAGE.format(
        owner=html.escape(owner),
        name=html.escape(str(manifest.get("name") or "")),
        hook=html.escape(manifest["hook_attributes"]["url"]),
        hidden=hidden_inputs(fields),
    )
    return HTMLResponse(page)


@web_router.post("/settings/apps/new", response_model=None)
async def new_app(request: Request, forge: ForgeDep) -> Response:
    """For the signed-in user's account (the App's owner on this forge when nobody is)."""
    owner = oauth(forge).signed_in or forge.the_app.owner
    return await _new_app_page(request, forge, owner)


@web_router.post("/organizations/{org}/settings/apps/new", response_model=None)
async def new_org_app(org: str, request: Request, forge: ForgeDep) -> Response:
    with forge.lock:
        found = forge.orgs.get(org.lower())
    if found is None:
        return HTMLResponse("<h1>404: no such organization</h1>", status_code=404)
    return await _new_app_page(request, forge, found.login)


@web_router.post("/settings/apps/new/confirm", response_model=None)
async def confirm(request: Request, forge: ForgeDep) -> Response:
    form = await _form(request)
    try:
        manifest = json.loads(form.get("manifest", ""))
    except ValueError:
        manifest = None
    problem = _problem(manifest)
    if problem is not None:
        return HTMLResponse(f"<h1>Invalid manifest</h1><p>{html.escape(problem)}</p>", 422)
    code = secrets.token_hex(20)
    state = manifest_state(forge)
    with state.lock:
        state.codes[code] = PendingApp(manifest, form.get("owner", ""), time.time() + CODE_SECONDS)
    back = {"code": code} | ({"state": form["state"]} if form.get("state") else {})
    return RedirectResponse(with_query(manifest["redirect_url"], **back), status_code=302)


def _slug(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part) or "app"


@router.post("/app-manifests/{code}/conversions")
async def convert(code: str, forge: ForgeDep) -> JSONResponse:
    state = manifest_state(forge)
    with state.lock:
        pending = state.codes.pop(code, None)
    if pending is None or pending.expires_at < time.time():
        raise not_found()
    manifest = pending.manifest
    keys = generate_app_keypair()
    app_id = forge.new_id()
    webhook_secret = secrets.token_hex(20)
    client_secret = secrets.token_hex(20)
    with forge.lock:
        owner = pending.owner if pending.owner.lower() in forge.users else None
        the_app = forge.create_app(
            keys.public_pem, app_id=app_id, slug=_slug(str(manifest.get("name") or "")),
            owner=owner,
        )  # fmt: skip
        the_app.name = str(manifest.get("name") or the_app.name)
        the_app.client_id = "Iv23li" + secrets.token_hex(7)
        permissions = manifest.get("default_permissions")
        if isinstance(permissions, dict):
            the_app.permissions = {str(k): str(v) for k, v in permissions.items()}
        if isinstance(manifest.get("default_events"), list):
            the_app.events = [str(e) for e in manifest["default_events"]]
        forge.app_key = keys
        forge.hooks.app_id = app_id
        forge.hooks.secret = webhook_secret
        forge.hooks.url = str(manifest["hook_attributes"]["url"])
        body = shapes.app(forge) | {
            "client_id": the_app.client_id,
            "client_secret": client_secret,
            "webhook_secret": webhook_secret,
            "pem": keys.private_pem,
        }
    oauth(forge).client_secret = client_secret
    return JSONResponse(body, status_code=201)


@router.get("/app/hook/config")
async def hook_config(forge: ForgeDep, _: AppDep) -> JSONResponse:
    state = manifest_state(forge)
    url = forge.webhook_url
    if url is None:
        raise GitHubError(404, "Not Found")
    body: dict[str, Any] = {
        "content_type": state.content_type,
        "insecure_ssl": state.insecure_ssl,
        "url": url,
    }
    if forge.webhook_secret:
        body["secret"] = "********"  # noqa: S105 (GitHub shows only that one is set)
    return JSONResponse(body)
