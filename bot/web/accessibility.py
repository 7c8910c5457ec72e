"""`/accessibility`: the accessibility statement RGAA asks for (and EU directive 2016/2102),
open to everyone, signed in or not: conformance as measured, how and when, and whom to tell.

`AUDIT` is what the browser test measured (`tests/test_browser.py` runs axe-core on every page
in every language and checks that the version written here is the one it ran). Change it only
with a new run of that test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.web.context import render, safe_url, web_context

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Audit:
    day: date
    tool: str  # name and version of the engine, as `node_modules/axe-core/package.json` says
    violations: int


AUDIT = Audit(day=date(2026, 12, 5), tool="axe-core 4.14.1", violations=0)
RECOURSE_URL = "https://formulaire.defenseurdesdroits.fr/"


@router.get("/accessibility", response_class=HTMLResponse)
async def statement(request: Request) -> Response:
    ctx = web_context(request)
    contact = (ctx.settings.accessibility_contact or "").strip()
    if "@" in contact and not contact.startswith(("http://", "https://", "mailto:")):
        contact_url: str | None = f"mailto:{contact}"
    else:
        contact_url = safe_url(contact) or (contact if contact.startswith("mailto:") else None)
    site = ctx.settings.public_url or str(request.base_url).rstrip("/")
    return render(
        ctx,
        "accessibility.html",
        audit_day=ctx.t.day(AUDIT.day),
        audit=AUDIT,
        contact=contact,
        contact_url=contact_url,
        site=site,
        recourse_url=RECOURSE_URL,
    )
