"""Queries across repositories: a minimal issue search, and GraphQL through a resolver hook."""

from __future__ import annotations

import shlex
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.sim import shapes_items
from bot.sim.forge import Forge
from bot.sim.models import Installation, Issue, Repo
from bot.sim.rest import ForgeDep, InstallationDep, json_body, slice_page, validation_failed

router = APIRouter()


def _parse(q: str) -> tuple[dict[str, list[str]], list[str]]:
    """Qualifiers (`key:value`, repeatable) and free words."""
    try:
        tokens = shlex.split(q)
    except ValueError:
        tokens = q.split()
    qualifiers: dict[str, list[str]] = {}
    words: list[str] = []
    for token in tokens:
        key, sep, value = token.partition(":")
        if sep and key and value:
            qualifiers.setdefault(key.lower(), []).append(value)
        else:
            words.append(token.lower())
    return qualifiers, words


def _hit(repo: Repo, item: Issue, quals: dict[str, list[str]], words: list[str]) -> bool:
    def one_of(key: str, value: str) -> bool:
        return key not in quals or value.lower() in {v.lower() for v in quals[key]}

    kinds = {v.lower() for v in quals.get("is", []) + quals.get("type", [])}
    if kinds & {"pr", "pull-request"} and not item.pull:
        return False
    if "issue" in kinds and item.pull:
        return False
    if kinds & {"open", "closed"} and item.state not in kinds:
        return False
    checks = [
        one_of("repo", repo.full_name),
        one_of("org", repo.owner) and one_of("user", repo.owner),
        one_of("author", item.user),
        one_of("state", item.state),
        all(lab.lower() in {n.lower() for n in item.labels} for lab in quals.get("label", [])),
        all(a.lower() in {x.lower() for x in item.assignees} for a in quals.get("assignee", [])),
    ]
    text = f"{item.title}\n{item.body or ''}".lower()
    return all(checks) and all(word in text for word in words)


def _visible(forge: Forge, inst: Installation) -> list[Repo]:
    return [r for r in forge.repos.values() if not r.private or forge.covers(inst, r)]


@router.get("/search/issues")
async def search_issues(request: Request, forge: ForgeDep, inst: InstallationDep) -> JSONResponse:
    """`q` with repo:, org:, user:, author:, assignee:, label:, is:pr|issue|open|closed,
    state:, and words matched in title or body. Newest first."""
    q = request.query_params.get("q", "").strip()
    if not q:
        raise validation_failed("Search", "q", "missing")
    quals, words = _parse(q)
    with forge.lock:
        hits = [
            (repo, item)
            for repo in _visible(forge, inst)
            for item in repo.issues.values()
            if _hit(repo, item, quals, words)
        ]
        hits.sort(key=lambda hit: (hit[1].created_at, hit[1].id), reverse=True)
        items = [shapes_items.search_item(forge, repo, item) for repo, item in hits]
    chunk, headers = slice_page(request, items)
    body = {
        "total_count": len(items),
        "incomplete_results": False,
        "items": chunk,
        "search_type": "lexical",
    }
    return JSONResponse(body, headers=headers)


@router.post("/graphql")
async def graphql(request: Request, forge: ForgeDep, inst: InstallationDep) -> JSONResponse:
    """The forge's GraphQL schema (`bot.sim.graphql`), or, when a test sets one,
    `forge.graphql_resolver(query, variables)` as `data` (its exceptions become GraphQL
    `errors`). Not in the REST description (no OpenAPI counterpart)."""
    data = await json_body(request)
    query, variables = str(data.get("query") or ""), data.get("variables") or {}
    resolver = forge.graphql_resolver
    if resolver is None:
        from bot.sim.graphql import answer

        body, headers = answer(forge, inst, data)
        return JSONResponse(body, headers=headers)
    try:
        result: Any = resolver(query, variables)
    except Exception as exc:  # a resolver failing is a GraphQL error, not a 500
        return JSONResponse({"data": None, "errors": [{"message": str(exc)}]})
    return JSONResponse({"data": result})
