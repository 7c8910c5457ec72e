"""Pull request endpoints: the pull request, its files, commits, reviews, requested reviewers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.sim import shapes, shapes_items
from bot.sim.forge import Forge
from bot.sim.models import Issue, Repo
from bot.sim.rest import ForgeDep, ReadRepo, not_found, page
from bot.sim.state import ForgeNotFound

router = APIRouter()


def _pull(forge: Forge, repo: Repo, number: int) -> Issue:
    try:
        return forge.get_pull(repo, number)
    except ForgeNotFound:
        raise not_found() from None


@router.get("/repos/{owner}/{repo}/pulls/{pull_number:int}")
async def get_pull(pull_number: int, forge: ForgeDep, r: ReadRepo) -> JSONResponse:
    with forge.lock:
        return JSONResponse(shapes_items.pull(forge, r, _pull(forge, r, pull_number), rest=True))


@router.get("/repos/{owner}/{repo}/pulls/{pull_number:int}/files")
async def list_files(
    request: Request, pull_number: int, forge: ForgeDep, r: ReadRepo
) -> JSONResponse:
    with forge.lock:
        item = _pull(forge, r, pull_number)
        assert item.pull is not None
        body = [shapes_items.diff_entry(forge, r, item.pull.head_sha, f) for f in item.pull.files]
    return page(request, body)


@router.get("/repos/{owner}/{repo}/pulls/{pull_number:int}/commits")
async def list_commits(
    request: Request, pull_number: int, forge: ForgeDep, r: ReadRepo
) -> JSONResponse:
    with forge.lock:
        item = _pull(forge, r, pull_number)
        assert item.pull is not None
        body = [shapes_items.commit(forge, r, c) for c in item.pull.commits]
    return page(request, body)


@router.get("/repos/{owner}/{repo}/pulls/{pull_number:int}/requested_reviewers")
async def requested_reviewers(pull_number: int, forge: ForgeDep, r: ReadRepo) -> JSONResponse:
    with forge.lock:
        item = _pull(forge, r, pull_number)
        assert item.pull is not None
        org = forge.org_of(r)
        teams = [org.teams[s] for s in item.pull.requested_teams if org and s in org.teams]
        body = {
            "users": [shapes.user(forge, u) for u in item.pull.requested_reviewers],
            "teams": [shapes.team(forge, org, t, rest=True) for t in teams if org],
        }
    return JSONResponse(body)
