"""The forge's web pages of issues and pull requests (github.com/OWNER/REPO/issues/N).

Not the REST API: what a person opens from the dashboard's links during the demo, so they see
the conversation and what Veilleur wrote. Every text is escaped: it is the forge's users' text.
"""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from bot.sim.rest import ForgeDep
from bot.sim.state import ForgeNotFound

router = APIRouter()

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}"
    ".c{border:1px solid #ccc;border-radius:6px;margin:1rem 0}"
    ".h{background:#f3f4f6;padding:.4rem .8rem;font-size:.9rem}"
    "pre{white-space:pre-wrap;margin:0;padding:.8rem;font:inherit}"
    ".l{display:inline-block;background:#eef;border-radius:1rem;padding:0 .6rem;margin:0 .2rem}"
)


def _box(who: str, when: str, body: str | None) -> str:
    return (
        f'<div class="c"><div class="h"><b>{html.escape(who)}</b> · {html.escape(when)}</div>'
        f"<pre>{html.escape(body or '')}</pre></div>"
    )


def page(forge: ForgeDep, owner: str, name: str, number: int, kind: str) -> HTMLResponse:
    try:
        with forge.lock:
            issue = forge.get_issue(f"{owner}/{name}", number)
            comments = sorted(
                (c for c in forge.get_repo(f"{owner}/{name}").comments.values()
                 if c.issue_number == number),
                key=lambda c: (c.created_at, c.id),
            )  # fmt: skip
            parts = [
                f"<h1>{html.escape(issue.title)} <small>#{number}</small></h1>",
                f"<p>{html.escape(owner)}/{html.escape(name)} · {html.escape(issue.state)} · ",
                "".join(f'<span class="l">{html.escape(label)}</span>' for label in issue.labels),
                "</p>",
                _box(issue.user, f"{issue.created_at:%Y-%m-%d %H:%M}", issue.body),
                *(_box(c.user, f"{c.created_at:%Y-%m-%d %H:%M}", c.body) for c in comments),
            ]
    except ForgeNotFound:
        return HTMLResponse("<h1>404: this page does not exist</h1>", status_code=404)
    title = html.escape(f"{issue.title} · {kind} #{number}")
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


@router.get("/{owner}/{name}/issues/{number}", response_model=None)
async def issue_page(owner: str, name: str, number: int, forge: ForgeDep) -> HTMLResponse:
    return page(forge, owner, name, number, "issue")


@router.get("/{owner}/{name}/pull/{number}", response_model=None)
async def pull_page(owner: str, name: str, number: int, forge: ForgeDep) -> HTMLResponse:
    return page(forge, owner, name, number, "pull request")


@router.get("/{owner}/{name}", response_model=None)
async def repo_page(owner: str, name: str, forge: ForgeDep) -> HTMLResponse:
    """The repository's own page (the dashboard's repository page links to it): its items."""
    try:
        with forge.lock:
            repo = forge.get_repo(f"{owner}/{name}")
            full = f"{owner}/{name}"
            rows = [
                f'<li><a href="/{html.escape(full)}/{"pull" if i.is_pull else "issues"}/{n}">'
                f"#{n}</a> {html.escape(i.title)} · {html.escape(i.state)}</li>"
                for n, i in sorted(repo.issues.items())
            ]
            about = html.escape(repo.description or "")
    except ForgeNotFound:
        return HTMLResponse("<h1>404: this page does not exist</h1>", status_code=404)
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(full)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(full)}</h1><p>{about}</p>"
        f"<ul>{''.join(rows)}</ul></body></html>"
    )
