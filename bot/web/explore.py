"""The dashboard pages below an organisation: `/orgs/{org}/repos/{repo}`,
`/orgs/{org}/items/{repo}/{number}`, `/orgs/{org}/contributors` and
`/orgs/{org}/organisations`.

Same access rules as `/orgs/{org}` (sign-in; the public mode shows public repositories only;
a repository the viewer may not see answers 404, like an unknown one). Figures come from the
weekly snapshot (`bot.web.snapshots`) computed over the repositories the viewer may see;
logins are hidden from anonymous visitors unless the org's `dashboard.public_people` says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.forge.links import item_ref
from bot.forge.names import org_config_repo
from bot.sla.rules import sla_setting
from bot.web import charts
from bot.web.access import KnownRepo, OrgView, org_view
from bot.web.aggregates import elephant_of, org_matrix, org_over_time, repo_period, repo_trend
from bot.web.context import WebContext, not_found, render, safe_url, sign_in_page, web_context
from bot.web.data import app_bot_logins, last_complete_week, links_of
from bot.web.org_urls import item_path, org_from_slug, org_path, repo_in_org, repo_path
from bot.web.periods import BadPeriod, Period, parse_period
from bot.web.snapshots import Snapshot, store_for

router = APIRouter(include_in_schema=False)

MATRIX_REPOS = 12  # columns of the organisation matrix (the others summed)
MATRIX_ORGS = 40
OVER_TIME_ORGS = 8
WAITING_ROWS = 200
PAGE_ROWS = 200  # contributors per page
RETURN_WEEKS = 12


@dataclass(frozen=True)
class Scope:
    ctx: WebContext
    view: OrgView
    period: Period
    snap: Snapshot
    hide_people: bool

    @property
    def first_last(self) -> tuple[int, int]:
        return self.period.indices(len(self.snap.agg.weeks))


def find_org(engine: Any, access: Any, slug: str) -> OrgView | None:
    """The org a URL segment names, as this viewer may see it; None when malformed."""
    org = org_from_slug(slug)
    return None if org is None else org_view(engine, access, org)


async def _scope(request: Request, org: str) -> Scope | Response:
    ctx = web_context(request)
    if ctx.access is None:
        return sign_in_page(ctx)
    engine = request.app.state.engine
    view = await asyncio.to_thread(find_org, engine, ctx.access, org)
    if view is None:
        return not_found(ctx)
    latest = last_complete_week(request.app.state.clock.now())
    try:
        period = parse_period(request.query_params, latest)
    except BadPeriod as e:
        return not_found(ctx, ctx.t("bad_period_text", reason=ctx.t(e.key)))
    repos = None if ctx.access.mode == "open" else view.allowed
    store = store_for(request)
    week = period.last if period.last != latest else None
    snap = await asyncio.to_thread(store.get, view.org, week, latest, repos)
    hide = await asyncio.to_thread(_people_hidden, request, view.org)
    return Scope(ctx, view, period, snap, hide)


def _people_hidden(request: Request, org: str) -> bool:
    from bot.web.people import people_hidden

    return people_hidden(request, org)


def _repo(view: OrgView, name: str) -> KnownRepo | None:
    """`name` below the org, or a member's repository by its whole name (`repo_in_org`)."""
    name = name.strip("/").lower()
    full = f"{view.org}/{name}".lower()
    return next((r for r in view.repos if r.full_name.lower() in (full, name)), None)


def _common(scope: Scope, path: str) -> dict[str, Any]:
    """What the period navigation and the crumbs need."""
    ctx, period, agg = scope.ctx, scope.period, scope.snap.agg
    first, last = scope.first_last
    weeks = agg.weeks[first : last + 1]
    t = ctx.t

    def period_link(kind: str) -> str:
        q = {"period": kind}
        if period.explicit and period.kind != "custom":
            q["week"] = period.last
        return ctx.link(path, **q)

    end = weeks[-1][2] - timedelta(microseconds=1)
    return {
        "org": scope.view.org,
        "org_url": ctx.link(org_path(scope.view.org)),
        "period": period,
        "period_links": [(k, period_link(k)) for k in ("week", "4w", "12w")],
        "period_path": path,
        "period_first": period.first,
        "period_label": t("period_range", first=weeks[0][0], last=weeks[-1][0],
                          start=t.day(weeks[0][1]), end=t.day(end)),
        "hide_people": scope.hide_people,
        "explicit_lang": ctx.explicit_lang,
        "period_query": period.query(),
        "nav": _nav(scope),
    }  # fmt: skip


def _nav(scope: Scope) -> list[tuple[str, str]]:
    ctx, org, q = scope.ctx, scope.view.org, scope.period.query()
    return [
        (ctx.t("nav_overview"), ctx.link(org_path(org))),
        (ctx.t("nav_contributors"), ctx.link(org_path(org, "contributors"), **q)),
        (ctx.t("nav_organisations"), ctx.link(org_path(org, "organisations"), **q)),
    ]


def _hours_fmt(ctx: WebContext) -> charts.Fmt:
    t = ctx.t
    return lambda v: t("hours", value=t.number(v, 0 if v == int(v) or v >= 10 else 1))


def target_hours(sla_days: float, calendar: Any) -> float:
    """The first-response SLA in business hours (days × the working day's hours)."""
    start, end = calendar.working_hours
    day = (end.hour * 60 + end.minute - start.hour * 60 - start.minute) / 60
    return sla_days * day


def config_of(request: Request, org: str, repo: str) -> Any:
    """`config_in_force`, read again only when the record changed."""
    from bot.web.config_view import config_in_force

    engine = request.app.state.engine
    return store_for(request).cached(
        ("config", repo.lower()), lambda: config_in_force(engine, org, repo)
    )


def org_target_hours(request: Request, org: str) -> float:
    """The first-response target of the org's own config (`org_config_repo`), in business
    hours."""
    rules = _rules(config_of(request, org, org_config_repo(org)).config)
    return target_hours(rules.first_response_days, rules.calendar)


def trend_chart(
    ctx: WebContext, points: list[tuple[str, float | None]], target: float | None
) -> dict[str, Any]:
    t, fmt = ctx.t, _hours_fmt(ctx)
    label = t("chart_ttfr_label")
    return {
        "svg": charts.line_chart(
            points, label=label, empty=t("chart_empty"), fmt=fmt, y_title=t("axis_business_hours"),
            x_title=t("axis_iso_week"), target=target,
            target_label=t("chart_target", value=fmt(target)) if target is not None else "",
        ),
        "table": charts.trend_table(
            points, caption=label, headers=(t("axis_iso_week"), t("col_ttfr")), fmt=fmt
        ),
    }  # fmt: skip


def age_bins_of(waiting: list[Any]) -> list[charts.AgeBin]:
    return charts.age_bins([(w.business_days_waiting, w.overdue) for w in waiting])


def age_chart(ctx: WebContext, bins: list[charts.AgeBin]) -> dict[str, Any]:
    t = ctx.t
    label = t("chart_age_label")
    return {
        "svg": charts.age_histogram(
            bins, label=label, empty=t("chart_empty"), y_title=t("axis_items"),
            x_title=t("axis_business_days_waited"), in_time=t("in_time"), overdue=t("overdue"),
        ),
        "table": charts.age_table(
            bins, caption=label,
            headers=(t("axis_business_days_waited"), t("in_time"), t("overdue"), t("col_total")),
        ),
    }  # fmt: skip


# -- repository -------------------------------------------------------------------------------


@router.get("/orgs/{org}/repos/{repo:path}", response_class=HTMLResponse)
async def repo_page(request: Request, org: str, repo: str) -> Response:
    scope = await _scope(request, org)
    if isinstance(scope, Response):
        return scope
    ctx = scope.ctx
    known = _repo(scope.view, repo)
    if known is None:
        return not_found(ctx)
    cfg = await asyncio.to_thread(config_of, request, scope.view.org, known.full_name)
    snap, key = scope.snap, known.full_name.lower()
    first, last = scope.first_last
    agg = snap.agg
    weeks = agg.repos.get(key) or []
    waiting = snap.waiting_of(key)
    if scope.hide_people:
        waiting = [replace(w, author="") for w in waiting]
    health = next((r for r in snap.digest.repositories if r.repo.lower() == key), None)
    rules = _rules(cfg.config)
    target = target_hours(rules.first_response_days, rules.calendar)
    points = [(agg.weeks[k][0].split("-")[-1], median) for k, median, _ in repo_trend(weeks)]
    path = repo_path(scope.view.org, known.full_name)
    return render(
        ctx, "repo.html", **_common(scope, path),
        repo=known.full_name, repo_name=repo_in_org(scope.view.org, known.full_name),
        private=known.private,
        waiting=waiting[:WAITING_ROWS], waiting_total=len(waiting),
        overdue=sum(w.overdue for w in waiting), volume=repo_period(weeks, first, last) if weeks
        else None, health=health, trend=trend_chart(ctx, points, target),
        age=age_chart(ctx, age_bins_of(waiting)), cfg=cfg, sla_days=rules.first_response_days,
        item_link=lambda w: ctx.link(item_path(scope.view.org, w.repo, w.number)),
        badge_url=f"/badges/{quote(known.full_name, safe='/')}/response.svg",
        forge_url=safe_url(links_of(request.app.state).repo(known.full_name)),
    )  # fmt: skip


def _short(ctx: WebContext, value: float) -> str:
    return ctx.t.number(value, 0 if value == int(value) else 1)


def _rules(config: Any) -> Any:
    from bot.digest.metrics import Rules

    return Rules.from_config(config)


# -- item -------------------------------------------------------------------------------------


@router.get("/orgs/{org}/items/{repo:path}/{number}", response_class=HTMLResponse)
async def item_page(request: Request, org: str, repo: str, number: int) -> Response:
    ctx = web_context(request)
    if ctx.access is None:
        return sign_in_page(ctx)
    engine = request.app.state.engine
    view = await asyncio.to_thread(find_org, engine, ctx.access, org)
    known = _repo(view, repo) if view is not None else None
    if view is None or known is None:
        return not_found(ctx)
    from bot.sla.calendar import BusinessCalendar
    from bot.web.item_story import load_story

    cfg = await asyncio.to_thread(config_of, request, view.org, known.full_name)
    calendar = BusinessCalendar.from_config(cfg.config.calendar)
    bots = frozenset(app_bot_logins(request.app.state))
    story = await asyncio.to_thread(
        load_story, engine, known.full_name, number, now=request.app.state.clock.now(),
        calendar=calendar, sla_cfg=cfg.config.sla, bots=bots,
    )  # fmt: skip
    if story is None:
        return not_found(ctx)
    hide = await asyncio.to_thread(_people_hidden, request, view.org)
    forge_url = links_of(request.app.state).item(known.full_name, story.item.kind, number)
    return render(
        ctx, "item.html", org=view.org, org_url=ctx.link(org_path(view.org)),
        repo=known.full_name, repo_name=repo_in_org(view.org, known.full_name),
        repo_url=ctx.link(repo_path(view.org, known.full_name)), story=story, hide_people=hide,
        github_url=safe_url(forge_url), item_ref=item_ref(known.full_name, number),
        sla_days=float(sla_setting(cfg.config.sla, "first_response_days")),
        sla_text=_short(ctx, float(sla_setting(cfg.config.sla, "first_response_days"))),
        stamp=ctx.t.stamp,
    )  # fmt: skip


# -- contributors -----------------------------------------------------------------------------


@router.get("/orgs/{org}/contributors", response_class=HTMLResponse)
async def contributors_page(request: Request, org: str) -> Response:
    scope = await _scope(request, org)
    if isinstance(scope, Response):
        return scope
    ctx, agg = scope.ctx, scope.snap.agg
    first, last = scope.first_last
    rows, back_count = scope.snap.derived(
        f"contributors:{first}:{last}", lambda: _newcomer_rows(agg, first, last)
    )
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    page = _page_number(request.query_params.get("page"), pages)
    if page is None:
        return not_found(ctx)
    path = org_path(scope.view.org, "contributors")
    query = scope.period.query()
    return render(
        ctx, "contributors.html", **_common(scope, path),
        rows=rows[(page - 1) * PAGE_ROWS : page * PAGE_ROWS], total=len(rows),
        back_count=back_count, page=page, pages=pages,
        prev_url=ctx.link(path, **query, page=str(page - 1)) if page > 1 else None,
        next_url=ctx.link(path, **query, page=str(page + 1)) if page < pages else None,
        item_link=lambda name, number: ctx.link(item_path(scope.view.org, name, number)),
    )  # fmt: skip


def _page_number(value: str | None, pages: int) -> int | None:
    if value is None:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= pages:
        return None
    return int(value)


def _newcomer_rows(agg: Any, first: int, last: int) -> tuple[list[tuple[Any, str]], int]:
    """(newcomer, came_back | not_back | not_yet) of weeks [first, last], and how many came
    back (made once per snapshot and period)."""
    end = agg.weeks[-1][2]
    rows = []
    for n in agg.newcomers:
        if not first <= n.week <= last:
            continue
        back = n.second_at is not None and n.second_at < n.first_at + timedelta(weeks=RETURN_WEEKS)
        state = "came_back" if back else ("not_yet" if _too_soon(n.first_at, end) else "not_back")
        rows.append((n, state))
    return rows, sum(1 for _, s in rows if s == "came_back")


def _too_soon(first_at: datetime, end: datetime) -> bool:
    """Not back yet, with time left to come back within 12 weeks."""
    return first_at + timedelta(weeks=RETURN_WEEKS) > end


# -- organisations ----------------------------------------------------------------------------


def _matrix(agg: Any, first: int, last: int) -> tuple[Any, ...]:
    """The organisations page's figures for weeks [first, last] (made once per snapshot)."""
    orgs, repos, cells = org_matrix(agg, first, last)
    columns, others = repos[:MATRIX_REPOS], repos[MATRIX_REPOS:]
    totals: dict[str, int] = {}
    for (name, _repo), n in cells.items():
        totals[name] = totals.get(name, 0) + n
    matrix = []
    for name in orgs[:MATRIX_ORGS]:
        row = [cells.get((name, r), 0) for r in columns]
        matrix.append((name, row, totals[name] - sum(row), totals[name]))
    top = orgs[:OVER_TIME_ORGS]
    over_time = list(zip(top, org_over_time(agg, top, first, last), strict=True))
    more = max(0, len(orgs) - MATRIX_ORGS)
    ranked = [(name, totals[name]) for name in orgs]
    return columns, len(others), matrix, ranked, over_time, more, elephant_of(agg, first, last)


@router.get("/orgs/{org}/organisations", response_class=HTMLResponse)
async def organisations_page(request: Request, org: str) -> Response:
    scope = await _scope(request, org)
    if isinstance(scope, Response):
        return scope
    ctx, agg, t = scope.ctx, scope.snap.agg, scope.ctx.t
    first, last = scope.first_last
    data = scope.snap.derived(f"organisations:{first}:{last}", lambda: _matrix(agg, first, last))
    columns, others, matrix, totals, over_time, more, elephant = data
    label = t("chart_orgs_label_period")
    path = org_path(scope.view.org, "organisations")
    return render(
        ctx, "organisations.html", **_common(scope, path), columns=columns,
        others=others, matrix=matrix, more_orgs=more, elephant=elephant, over_time=over_time,
        weeks=[w for w, _, _ in agg.weeks[first : last + 1]],
        orgs_svg=charts.bar_chart(totals, label=label, empty=t("chart_empty")),
        orgs_table=charts.bars_table(totals, caption=label,
                                     headers=(t("col_org"), t("col_contributions"))),
        repo_link=lambda name: ctx.link(repo_path(scope.view.org, name), **scope.period.query()),
    )  # fmt: skip
