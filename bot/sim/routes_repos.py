"""Repository endpoints: metadata, contents, community profile, permissions, labels, checks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bot.sim import payloads, shapes, shapes_items
from bot.sim.items import LabelExists
from bot.sim.rest import (
    ForgeDep,
    GitHubError,
    ReadRepo,
    WriteRepo,
    conditional,
    json_body,
    not_found,
    validation_failed,
)

router = APIRouter()

LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}


@router.get("/repos/{owner}/{repo}")
async def get_repo(forge: ForgeDep, r: ReadRepo) -> JSONResponse:
    with forge.lock:
        return JSONResponse(shapes.repository(forge, r, flavor="rest"))


@router.get("/repos/{owner}/{repo}/contents/{path:path}")
async def get_contents(request: Request, path: str, forge: ForgeDep, r: ReadRepo) -> Response:
    """A file (base64, `type: file`) or a directory listing; `ref` is a branch or a sha.
    With its `ETag`; `If-None-Match` naming it gets `304 Not Modified` (`conditional`)."""
    ref = request.query_params.get("ref") or r.default_branch
    path = path.strip("/")
    with forge.lock:
        files = forge.files_at(r, ref)
        if files is None:
            raise GitHubError(404, f"No commit found for the ref {ref}")
        if path in files:
            return conditional(
                request, shapes_items.content_entry(forge, r, path, ref, files[path])
            )
        prefix = f"{path}/" if path else ""
        entries: dict[str, str | None] = {}
        for name, text in files.items():
            if name.startswith(prefix):
                head, sep, _ = name[len(prefix) :].partition("/")
                entries[prefix + head] = None if sep else text
        if not entries:
            raise not_found()
        listing = [
            shapes_items.content_entry(forge, r, name, ref, text)
            for name, text in sorted(entries.items())
        ]
    return conditional(request, listing)


@router.get("/repos/{owner}/{repo}/community/profile")
async def community_profile(forge: ForgeDep, r: ReadRepo) -> JSONResponse:
    with forge.lock:
        return JSONResponse(shapes_items.community_profile(forge, r))


@router.get("/repos/{owner}/{repo}/collaborators/{username}/permission")
async def collaborator_permission(username: str, forge: ForgeDep, r: ReadRepo) -> JSONResponse:
    """Role from ownership, grants and org base permission; `none` on a private repository."""
    with forge.lock:
        if username.lower() not in forge.users:
            raise not_found()
        role = forge.role_of(r, username) or "none"
        permission = LEGACY_PERMISSION.get(role, "none")
        flags = {
            "admin": role == "admin",
            "maintain": role in ("admin", "maintain"),
            "push": role in ("admin", "maintain", "write"),
            "triage": role in ("admin", "maintain", "write", "triage"),
            "pull": role != "none",
        }
        body = {
            "permission": permission,
            "role_name": role,
            "user": shapes.user(forge, username) | {"permissions": flags, "role_name": role},
        }
    return JSONResponse(body)


@router.get("/repos/{owner}/{repo}/labels/{name:path}")
async def get_label(name: str, forge: ForgeDep, r: ReadRepo) -> JSONResponse:
    with forge.lock:
        found = r.labels.get(name.lower())
        if found is None:
            raise not_found()
        return JSONResponse(shapes_items.label(forge, r, found))


@router.post("/repos/{owner}/{repo}/labels")
async def create_label(request: Request, forge: ForgeDep, r: WriteRepo) -> JSONResponse:
    data = await json_body(request)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise validation_failed("Label", "name", "missing_field")
    with forge.lock:
        try:
            created = forge.create_label(
                r, name, str(data.get("color") or "ededed"), data.get("description")
            )
        except LabelExists:
            raise validation_failed("Label", "name", "already_exists") from None
        body = shapes_items.label(forge, r, created)
        event = payloads.label_event(forge, r, created, forge.bot_login)
    forge.emit(event, by_bot=True)
    return JSONResponse(body, status_code=201)


@router.post("/repos/{owner}/{repo}/check-runs")
async def create_check_run(request: Request, forge: ForgeDep, r: WriteRepo) -> JSONResponse:
    data = await json_body(request)
    for required in ("name", "head_sha"):
        if not isinstance(data.get(required), str):
            raise validation_failed("CheckRun", required, "missing_field")
    with forge.lock:
        run = forge.create_check_run(r, data)
        return JSONResponse(shapes_items.check_run(forge, r, run), status_code=201)
