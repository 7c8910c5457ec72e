"""The dashboard's JSON API under `/api/`, described in `/openapi.json`.

Same access rules as the pages (session cookie; public mode; open demo mode). The digest's
JSON is `Digest.to_json()`, validated into the response models below.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from bot.api_docs import described
from bot.digest.model import (
    NewContributor,
    OrganisationShare,
    RepoHealth,
    Returner,
    TimeToFirstResponse,
    TrendPoint,
    Volume,
    WaitingItem,
)
from bot.web.access import Access, OrgView, listed_orgs, org_view
from bot.web.context import web_context
from bot.web.data import WEEK, load_digest, valid_week
from bot.web.org_urls import org_from_slug, org_slug

router = APIRouter(prefix="/api", tags=["dashboard"])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Sign-in required (no session, and the public dashboard is off)."},
    404: {"description": "No such organisation, or none of it is visible to this viewer."},
}
WeekQuery = Annotated[
    str | None,
    Query(pattern=WEEK.pattern, description="ISO week `YYYY-Www`; default: last complete week."),
]


class OrgSummary(BaseModel):
    org: str = Field(description="`owner` on GitHub, `host/group[/subgroup…]` on GitLab.")
    slug: str = Field(description="The name in URLs (`/` written `~`): `/api/orgs/{slug}/…`.")
    repositories: int = Field(
        description="Repositories of the org this viewer may see, with those of the owners its"
        " `ospo.members` names: the repositories its digest and pages cover."
    )
    complete: bool = Field(description="Whether the viewer sees every installed repository.")


class Period(BaseModel):
    start: datetime
    end: datetime


class RetentionOut(BaseModel):
    model_config = described(
        "CHAOSS retention: of the new contributors of the cohort's 12 weeks (ending 12 weeks"
        " before the period end), those who opened a second contribution within 12 weeks."
    )

    cohort_start: datetime
    cohort_end: datetime
    new_contributors: int
    came_back: int
    share: float | None
    contributors: list[Returner]


class Metrics(BaseModel):
    time_to_first_response: TimeToFirstResponse
    time_to_first_response_inside: TimeToFirstResponse
    volume: Volume
    change_request_closure_ratio: float | None
    new_contributors: list[NewContributor]
    elephant_factor: int | None
    new_organisations: list[str]
    retention: RetentionOut | None = None


class Trends(BaseModel):
    weeks_4: list[TrendPoint]
    weeks_12: list[TrendPoint]


class DigestOut(BaseModel):
    model_config = described("`Digest.to_json()`, cut down to what the viewer may see.")

    org: str
    week: str
    period: Period
    generated_at: datetime
    metrics: Metrics
    waiting: list[WaitingItem]
    organisations: list[OrganisationShare]
    repositories: list[RepoHealth]
    trends: Trends
    withheld: bool = Field(
        False, description="Organisation figures hidden: the viewer sees only some repositories."
    )


class WaitingOut(BaseModel):
    org: str
    week: str
    as_of: datetime = Field(description="End of the week the list describes.")
    items: list[WaitingItem]


def _access(request: Request) -> Access:
    ctx = web_context(request)
    if ctx.access is None:
        raise HTTPException(401, "Sign in at /auth/login to use the API.")
    return ctx.access


async def _view(request: Request, org: str) -> tuple[Access, OrgView]:
    access = _access(request)
    name = org_from_slug(org)
    view = (
        None
        if name is None
        else await asyncio.to_thread(org_view, request.app.state.engine, access, name)
    )
    if view is None:
        raise HTTPException(404, "Not found.")
    return access, view


def _repos(access: Access, view: OrgView) -> frozenset[str] | None:
    return None if access.mode == "open" else view.allowed


@router.get(
    "/orgs",
    responses=ERRORS,
    description="The organisations this viewer may see.",
)
async def list_orgs(request: Request) -> list[OrgSummary]:
    access = _access(request)
    views = await asyncio.to_thread(listed_orgs, request.app.state.engine, access)
    return [
        OrgSummary(org=v.org, slug=org_slug(v.org), repositories=len(v.repos), complete=v.complete)
        for v in views
    ]


@router.get(
    "/orgs/{org}/digest",
    responses=ERRORS,
    description="One week's digest (CHAOSS metrics, waiting list, organisations, repositories,"
    " trends).",
)
async def org_digest(request: Request, org: str, week: WeekQuery = None) -> DigestOut:
    access, view = await _view(request, org)
    if week is not None and not valid_week(week):
        raise HTTPException(422, "week must be an ISO week such as 2025-W09.")
    shown = await asyncio.to_thread(
        load_digest, request, view.org, week, _repos(access, view), view.complete
    )
    return DigestOut.model_validate(shown.digest.to_json() | {"withheld": shown.withheld})


@router.get(
    "/orgs/{org}/waiting",
    responses=ERRORS,
    description="Contributions waiting for a maintainer at the end of the week, longest wait"
    " first.",
)
async def org_waiting(request: Request, org: str, week: WeekQuery = None) -> WaitingOut:
    access, view = await _view(request, org)
    if week is not None and not valid_week(week):
        raise HTTPException(422, "week must be an ISO week such as 2025-W09.")
    shown = await asyncio.to_thread(
        load_digest, request, view.org, week, _repos(access, view), view.complete
    )
    d = shown.digest
    items = sorted(d.waiting, key=lambda w: -w.business_days_waiting)
    return WaitingOut(
        org=d.org, week=d.week, as_of=d.end, items=[WaitingItem(**asdict(w)) for w in items]
    )
