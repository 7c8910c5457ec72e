"""HTML pages: `/` (organisations), `/orgs/{org}` (latest complete week) and
`/orgs/{org}/digest/{week}` (one ISO week), rendered on the server with SVG charts."""

from __future__ import annotations

import asyncio
import logging
from datetime import time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.resources import templates_dir
from bot.web import charts
from bot.web.access import OrgView, listed_orgs
from bot.web.context import WebContext, message, not_found, render, sign_in_page, web_context
from bot.web.data import Shown, last_complete_week, load_digest, shift_week, valid_week
from bot.web.explore import (
    WAITING_ROWS,
    age_bins_of,
    age_chart,
    find_org,
    org_target_hours,
    trend_chart,
)
from bot.web.org_urls import item_path, org_path, repo_path

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
LIST_ROWS = 100  # people listed on the overview; every one is on the contributors page


@router.get("/static/veilleur.css")
async def stylesheet() -> Response:
    css = (templates_dir() / "web" / "veilleur.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    ctx = web_context(request)
    if ctx.access is None:
        return sign_in_page(ctx)
    orgs = await asyncio.to_thread(listed_orgs, request.app.state.engine, ctx.access)
    return render(ctx, "index.html", orgs=orgs)


@router.get("/orgs/{org}", response_class=HTMLResponse)
async def org_page(request: Request, org: str) -> Response:
    return await _digest_page(request, org, None)


@router.get("/orgs/{org}/digest/{week}", response_class=HTMLResponse)
async def week_page(request: Request, org: str, week: str) -> Response:
    return await _digest_page(request, org, week)


async def _digest_page(request: Request, org: str, week: str | None) -> Response:
    ctx = web_context(request)
    if ctx.access is None:
        return sign_in_page(ctx)
    if week is not None and not valid_week(week):
        return not_found(ctx, ctx.t("bad_week_text"))
    view = await asyncio.to_thread(find_org, request.app.state.engine, ctx.access, org)
    if view is None:
        return not_found(ctx)
    try:
        shown = await asyncio.to_thread(
            load_digest, request, view.org, week, _repos(ctx, view), view.complete
        )
    except ImportError:
        log.error("the digest engine (bot.digest.compute) is not available")
        return message(ctx, ctx.t("unavailable_title"), ctx.t("unavailable_text"), status=503)
    target = await asyncio.to_thread(org_target_hours, request, view.org)
    refused = await asyncio.to_thread(_refused, ctx, request.app.state.engine, view.org)
    return render(ctx, "org.html", **_page_data(ctx, view, shown, week, target), refused=refused)


def _refused(ctx: WebContext, engine: Any, org: str) -> tuple[str, ...]:
    """The owners the org's `ospo.members` lists that have not consented (bot/digest/ospo.py),
    told to its viewers; not to the anonymous public, to whom names of owners are not told."""
    from bot.digest.configs import owner_config
    from bot.digest.ospo import refused_members

    if ctx.access is None or ctx.access.mode == "public":
        return ()
    return refused_members(engine, org, owner_config(engine, org))


def _repos(ctx: WebContext, view: OrgView) -> frozenset[str] | None:
    """None (no filtering) only in the open demo mode."""
    assert ctx.access is not None
    return None if ctx.access.mode == "open" else view.allowed


def _page_data(
    ctx: WebContext, view: OrgView, shown: Shown, asked: str | None, target: float | None
) -> dict[str, Any]:
    d, t = shown.digest, ctx.t
    latest = last_complete_week(ctx.request.app.state.clock.now())
    midnight = d.end.timetz().replace(tzinfo=None) == time(0)
    end = d.end - timedelta(microseconds=1) if midnight else d.end  # an exclusive end
    trend = [(p.week.split("-")[-1], p.ttfr_median_business_hours) for p in d.trend_12w]
    orgs = [(t.organisation(o.name), o.contributions) for o in d.organisations]
    api = org_path(view.org, "digest", root="/api/orgs") + (f"?week={d.week}" if asked else "")
    return {
        "org": view.org,
        "week": d.week,
        "d": d,
        "withheld": shown.withheld,
        "latest": asked is None or asked == latest,
        "prev_week": shift_week(d.week, -1),
        "next_week": shift_week(d.week, 1) if d.week < latest else None,
        "period_start": t.day(d.start),
        "period_end": t.day(end),
        "retention_start": t.day(d.retention.cohort_start) if d.retention else None,
        "retention_end": (
            t.day(d.retention.cohort_end - timedelta(microseconds=1)) if d.retention else None
        ),
        "generated": t.stamp(d.generated_at),
        "overdue": shown.memo("overdue", lambda: sum(1 for w in d.waiting if w.overdue)),
        "api_url": api,
        "trend": trend_chart(ctx, trend, target),
        "age": age_chart(ctx, shown.memo("age_bins", lambda: age_bins_of(d.waiting))),
        "orgs_chart": {
            "svg": charts.bar_chart(orgs, label=t("chart_orgs_label"), empty=t("chart_empty")),
            "table": charts.bars_table(
                orgs, caption=t("chart_orgs_label"), headers=(t("col_org"), t("col_contributions"))
            ),
        },
        "waiting_rows": shown.memo(
            "waiting_top",
            lambda: sorted(d.waiting, key=lambda w: -w.business_days_waiting)[:WAITING_ROWS],
        ),
        "nav": [
            (t("nav_overview"), ctx.link(org_path(view.org))),
            (t("nav_contributors"), ctx.link(org_path(view.org, "contributors"))),
            (t("nav_organisations"), ctx.link(org_path(view.org, "organisations"))),
        ],
        "list_rows": LIST_ROWS,
        "contributors_url": ctx.link(org_path(view.org, "contributors")),
        "repo_link": lambda name: ctx.link(repo_path(view.org, name)),
        "item_link": lambda w: ctx.link(item_path(view.org, w.repo, w.number)),
    }
