# SPDX-License-Identifier: EUPL-1.2
"""`GET /installation/repositories`: the repositories an installation token can act on
(every repository of the account, or the selected ones)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.simforge import shapes
from bot.simforge.rest import ForgeDep, InstallationDep, slice_page

router = APIRouter()


@router.get("/installation/repositories")
async def installation_repositories(
    request: Request, forge: ForgeDep, inst: InstallationDep
) -> JSONResponse:
    with forge.lock:
        repos = [
            shapes.repository(forge, repo, flavor="rest")
            for repo in sorted(forge.repos.values(), key=lambda r: r.full_name.lower())
            if forge.covers(inst, repo)
        ]
    chunk, headers = slice_page(request, repos)
    body = {
        "total_count": len(repos),
        "repository_selection": inst.repository_selection,
        "repositories": chunk,
    }
    return JSONResponse(body, headers=headers)
