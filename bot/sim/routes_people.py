"""People endpoints: users, org membership (private members included, as the App has
`members: read`), team membership and team members."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from bot.sim import shapes
from bot.sim.rest import ForgeDep, GitHubError, InstallationDep, not_found

router = APIRouter()


@router.get("/users/{username}")
async def get_user(username: str, forge: ForgeDep, _: InstallationDep) -> JSONResponse:
    with forge.lock:
        if username.lower() not in forge.users:
            raise not_found()
        return JSONResponse(shapes.public_user(forge, username))


@router.get("/orgs/{org}/members/{username}")
async def check_member(org: str, username: str, forge: ForgeDep, _: InstallationDep) -> Response:
    """204 for a member (public or private), 404 otherwise."""
    with forge.lock:
        found = forge.orgs.get(org.lower())
        membership = found.members.get(username.lower()) if found else None
    if membership is None or membership.state != "active":
        raise GitHubError(404, "User does not exist or is not a member of the organization")
    return Response(status_code=204)


@router.get("/orgs/{org}/teams/{team_slug}/memberships/{username}")
async def team_membership(
    org: str, team_slug: str, username: str, forge: ForgeDep, _: InstallationDep
) -> JSONResponse:
    with forge.lock:
        found = forge.orgs.get(org.lower())
        team = found.teams.get(team_slug) if found else None
        membership = team.members.get(username.lower()) if team else None
        if team is None or membership is None:
            raise not_found()
        body = {
            "url": f"{forge.api_url}/teams/{team.id}/memberships/{username}",
            "role": membership.role,
            "state": membership.state,
        }
    return JSONResponse(body)
