"""Endpoints authenticated as the App itself (JWT): the App, its installations, installation
tokens, and the webhook delivery log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.sim import shapes
from bot.sim.rest import (
    AppDep,
    ForgeDep,
    GitHubError,
    InstallationDep,
    int_param,
    not_found,
    page,
    page_url,
    slice_page,
)

router = APIRouter()


@router.get("/app")
async def get_app(forge: ForgeDep, _: AppDep) -> JSONResponse:
    with forge.lock:
        body = shapes.app(forge) | {"installations_count": len(forge.installations)}
    return JSONResponse(body)


@router.get("/app/installations")
async def list_installations(request: Request, forge: ForgeDep, _: AppDep) -> JSONResponse:
    with forge.lock:
        items = [shapes.installation(forge, i) for i in forge.installations.values()]
    return page(request, items)


@router.get("/installation/repositories")
async def installation_repositories(
    request: Request, forge: ForgeDep, inst: InstallationDep
) -> JSONResponse:
    """The repositories an installation token can act on, paged, with their total."""
    with forge.lock:
        repos = sorted(
            (r for r in forge.repos.values() if forge.covers(inst, r)),
            key=lambda r: r.full_name.lower(),
        )
        chunk, headers = slice_page(request, repos)
        body = {
            "total_count": len(repos),
            "repository_selection": inst.repository_selection,
            "repositories": [shapes.repository(forge, r) for r in chunk],
        }
    return JSONResponse(body, headers=headers)


@router.post("/app/installations/{installation_id}/access_tokens")
async def create_access_token(installation_id: int, forge: ForgeDep, _: AppDep) -> JSONResponse:
    """A `ghs_…` token valid one hour (by the wall clock, which is what clients cache by)."""
    with forge.lock:
        inst = forge.installations.get(installation_id)
        if inst is None:
            raise not_found()
        if inst.suspended_at is not None:
            raise GitHubError(403, "This installation has been suspended")
        token = forge.issue_token(inst)
        body: dict[str, Any] = {
            "token": token.token,
            "expires_at": datetime.fromtimestamp(token.expires_at, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "permissions": dict(forge.the_app.permissions),
            "repository_selection": inst.repository_selection,
        }
        if inst.repository_selection == "selected":
            repos = [forge.repos[name] for name in sorted(inst.repos) if name in forge.repos]
            body["repositories"] = [shapes.repository(forge, r) for r in repos]
    return JSONResponse(body, status_code=201)


@router.get("/app/hook/deliveries")
async def list_deliveries(request: Request, forge: ForgeDep, _: AppDep) -> JSONResponse:
    """Newest first, cursor paging (`cursor=v1_<id>`: deliveries older than that id)."""
    per_page = int_param(request, "per_page", 30, 1, 100)
    cursor = request.query_params.get("cursor", "")
    before = int(cursor[3:]) if cursor.startswith("v1_") and cursor[3:].isdigit() else None
    sent = [d for d in reversed(forge.deliveries) if d.status_code is not None]
    if before is not None:
        sent = [d for d in sent if d.id < before]
    chunk = sent[:per_page]
    items = [
        {
            "id": d.id,
            "guid": d.guid,
            "delivered_at": d.delivered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "redelivery": d.redelivery,
            "duration": d.duration,
            "status": d.status,
            "status_code": d.status_code,
            "event": d.event,
            "action": d.action,
            "installation_id": d.installation_id,
            "repository_id": d.repository_id,
            "throttled_at": None,
        }
        for d in chunk
    ]
    headers = {}
    if len(sent) > per_page:
        headers["link"] = f'<{page_url(request, cursor=f"v1_{chunk[-1].id}")}>; rel="next"'
    return JSONResponse(items, headers=headers)


@router.post("/app/hook/deliveries/{delivery_id}/attempts")
async def redeliver(delivery_id: int, forge: ForgeDep, _: AppDep) -> JSONResponse:
    """Queues the same payload with the same GUID, flagged `redelivery`; 202 at once."""
    try:
        forge.redeliver(delivery_id)
    except KeyError:
        raise not_found() from None
    return JSONResponse({}, status_code=202)
