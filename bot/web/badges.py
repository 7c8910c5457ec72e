"""README badges of a public repository's responsiveness:
`GET /badges/{owner}/{repo}/response.svg` and `.../response.json` (shields.io endpoint format);
a GitLab project is named with its host and groups (`/badges/gitlab.example.org/city/app/…`).

The figure: the median first response, in business days of the repository's calendar, of the
outside issues and pull requests opened in the 12 weeks ending with the last complete week
(answered ones; from the public-repositories snapshot). Coloured against the repository's
`sla.first_response_days`: green within it, orange up to twice it, red beyond, grey without
data. Public repositories only, whatever the dashboard's mode: a private or unknown one is 404.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import escape

from bot.digest.metrics import median_or_none
from bot.forge.names import RepoName, owner_of
from bot.sla.rules import sla_setting
from bot.web.access import known_repos
from bot.web.data import last_complete_week
from bot.web.snapshots import store_for

router = APIRouter(prefix="/badges", include_in_schema=False)

LABEL = "first response"
COLOURS = {"green": "#2e7d32", "orange": "#b45309", "red": "#b91c1c", "grey": "#555b66"}
HEADERS = {
    "Cache-Control": "public, max-age=3600",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


@dataclass(frozen=True)
class Badge:
    message: str
    colour: str  # green | orange | red | grey
    median_days: float | None
    sla_days: float | None


def badge_for(median_days: float | None, sla_days: float | None) -> Badge:
    if median_days is None or sla_days is None:
        return Badge("no data", "grey", None, sla_days)
    if median_days <= sla_days:
        colour = "green"
    elif median_days <= 2 * sla_days:
        colour = "orange"
    else:
        colour = "red"
    text = f"{median_days:.1f}".rstrip("0").rstrip(".")
    unit = "business day" if text == "1" else "business days"
    return Badge(f"{text} {unit}", colour, median_days, sla_days)


def _width(text: str) -> int:
    """Verdana 11 px is about 7 px a character; a 10 px margin on each side."""
    return 7 * len(text) + 10


def badge_svg(badge: Badge, label: str = LABEL) -> str:
    lw, mw = _width(label), _width(badge.message)
    total, fill = lw + mw, COLOURS[badge.colour]
    title = f"{label}: {badge.message}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<rect width="{lw}" height="20" fill="#555b66"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{fill}"/>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" '
        f'font-size="11"><text x="{lw / 2:.1f}" y="14">{escape(label)}</text>'
        f'<text x="{lw + mw / 2:.1f}" y="14">{escape(badge.message)}</text></g></svg>'
    )


async def _badge(request: Request, repo: str) -> Badge:
    engine = request.app.state.engine
    if not RepoName.parse(repo).namespace:
        raise HTTPException(404, "No public repository of that name.")
    repos = await asyncio.to_thread(known_repos, engine, owner_of(repo))
    full = repo.lower()
    known = next((r for r in repos if r.full_name.lower() == full), None)
    if known is None or known.private:
        raise HTTPException(404, "No public repository of that name.")
    public = frozenset(r.full_name.lower() for r in repos if not r.private)
    latest = last_complete_week(request.app.state.clock.now())
    snap = await asyncio.to_thread(store_for(request).get, known.owner, None, latest, public)
    days = snap.agg.first_response_days.get(full, [])
    sla_days = snap.agg.sla_days.get(full)
    if sla_days is None:
        from bot.web.explore import config_of

        cfg = await asyncio.to_thread(config_of, request, known.owner, known.full_name)
        sla_days = float(sla_setting(cfg.config.sla, "first_response_days"))
    return badge_for(median_or_none(days), sla_days)


@router.get("/{repo:path}/response.svg")
async def response_svg(request: Request, repo: str) -> Response:
    badge = await _badge(request, repo)
    return Response(badge_svg(badge), media_type="image/svg+xml", headers=HEADERS)


@router.get("/{repo:path}/response.json")
async def response_json(request: Request, repo: str) -> Response:
    """The shields.io endpoint format: https://shields.io/badges/endpoint-badge"""
    badge = await _badge(request, repo)
    body = {"schemaVersion": 1, "label": LABEL, "message": badge.message, "color": badge.colour}
    return JSONResponse(body, headers=HEADERS)
