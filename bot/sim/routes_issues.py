"""Issue endpoints (pull requests are issues too): list, read, create, update, comments,
labels, assignees. Every change the App makes is echoed as the webhook GitHub would send,
with the bot as sender (see `Forge.emit_bot_events`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.sim import payloads, shapes_items
from bot.sim.forge import Forge
from bot.sim.models import Issue, Repo
from bot.sim.rest import (
    ForgeDep,
    GitHubError,
    ReadRepo,
    WriteRepo,
    json_body,
    not_found,
    page,
    validation_failed,
)
from bot.sim.state import ForgeNotFound

router = APIRouter()
Events = list[tuple[str, dict[str, Any]]]


def _item(forge: Forge, repo: Repo, number: int) -> Issue:
    try:
        return forge.get_issue(repo, number)
    except ForgeNotFound:
        raise not_found() from None


def _str_list(data: dict[str, Any], key: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation_failed("Issue", key, "invalid")
    return value


def _send(forge: Forge, events: Events) -> None:
    for event in events:
        forge.emit(event, by_bot=True)


def _matches(forge: Forge, item: Issue, request: Request) -> bool:
    q = request.query_params
    state = q.get("state", "open")
    if state != "all" and item.state != state:
        return False
    if (creator := q.get("creator")) and item.user.lower() != creator.lower():
        return False
    assignee = q.get("assignee")
    if assignee == "none" and item.assignees:
        return False
    if assignee == "*" and not item.assignees:
        return False
    if assignee not in (None, "none", "*") and assignee.lower() not in {
        a.lower() for a in item.assignees
    }:
        return False
    if labels := q.get("labels"):
        have = {n.lower() for n in item.labels}
        if not all(n.strip().lower() in have for n in labels.split(",") if n.strip()):
            return False
    if since := q.get("since"):
        try:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise validation_failed("Issue", "since", "invalid") from None
        if item.updated_at < when:
            return False
    return True


@router.get("/repos/{owner}/{repo}/issues")
async def list_issues(request: Request, forge: ForgeDep, r: ReadRepo) -> JSONResponse:
    """Filters: state, creator, assignee, labels (all of), since; sort created|updated|comments."""
    sort = request.query_params.get("sort", "created")
    descending = request.query_params.get("direction", "desc") != "asc"
    with forge.lock:
        items = [i for i in r.issues.values() if _matches(forge, i, request)]
        counts = {i.number: len(forge.comments_of(r, i)) for i in items}
        keys = {
            "updated": lambda i: (i.updated_at, i.number),
            "comments": lambda i: (counts[i.number], i.number),
        }
        items.sort(key=keys.get(sort, lambda i: (i.created_at, i.number)), reverse=descending)
        body = [shapes_items.issue(forge, r, i, rest=True) for i in items]
    return page(request, body)


@router.post("/repos/{owner}/{repo}/issues")
async def create_issue(request: Request, forge: ForgeDep, r: WriteRepo) -> JSONResponse:
    data = await json_body(request)
    title = data.get("title")
    if not isinstance(title, str) or not title:
        raise validation_failed("Issue", "title", "missing_field")
    labels = _str_list(data, "labels") or []
    assignees = _str_list(data, "assignees") or []
    bot = forge.bot_login
    with forge.lock:
        item = forge.create_issue(
            r, bot, title, data.get("body"), labels=labels, assignees=assignees, via_app=True
        )
        events = payloads.opened(forge, r, item, bot)
        body = shapes_items.issue(forge, r, item, rest=True)
    _send(forge, events)
    return JSONResponse(body, status_code=201)


@router.get("/repos/{owner}/{repo}/issues/{issue_number:int}")
async def get_issue(issue_number: int, forge: ForgeDep, r: ReadRepo) -> JSONResponse:
    with forge.lock:
        return JSONResponse(shapes_items.issue(forge, r, _item(forge, r, issue_number), rest=True))


def _apply_update(forge: Forge, r: Repo, item: Issue, data: dict[str, Any]) -> Events:
    """PATCH semantics, returning the events in GitHub's order."""
    bot, events = forge.bot_login, []
    title, body = data.get("title"), data.get("body")
    changes = forge.edit_issue(item, title=title, body=body)
    if changes:
        events.append(payloads.item_event(forge, r, item, "edited", bot, changes=changes))
    labels = _str_list(data, "labels")
    if labels is not None:
        wanted = {n.lower() for n in labels}
        for name in [n for n in item.labels if n.lower() not in wanted]:
            removed = forge.remove_label(r, item, name, actor=bot)
            events.append(payloads.labeled(forge, r, item, removed, bot, "unlabeled"))
        for lab in forge.add_labels(r, item, labels, actor=bot):
            events.append(payloads.labeled(forge, r, item, lab, bot))
    assignees = _str_list(data, "assignees")
    if assignees is None and "assignee" in data:
        assignees = [data["assignee"]] if data["assignee"] else []
    if assignees is not None:
        keep = {a.lower() for a in assignees}
        for login in forge.remove_assignees(
            r, item, [a for a in item.assignees if a.lower() not in keep], actor=bot
        ):
            events.append(payloads.assigned(forge, r, item, login, bot, "unassigned"))
        for login in forge.add_assignees(r, item, assignees, actor=bot):
            events.append(payloads.assigned(forge, r, item, login, bot))
    state = data.get("state")
    if state not in (None, "open", "closed"):
        raise validation_failed("Issue", "state", "invalid")
    if state == "closed" and forge.close_issue(item, bot, data.get("state_reason")):
        events.append(payloads.item_event(forge, r, item, "closed", bot))
    if state == "open" and forge.reopen_issue(item, actor=bot):
        events.append(payloads.item_event(forge, r, item, "reopened", bot))
    return events


@router.patch("/repos/{owner}/{repo}/issues/{issue_number:int}")
async def update_issue(
    request: Request, issue_number: int, forge: ForgeDep, r: WriteRepo
) -> JSONResponse:
    data = await json_body(request)
    with forge.lock:
        item = _item(forge, r, issue_number)
        events = _apply_update(forge, r, item, data)
        body = shapes_items.issue(forge, r, item, rest=True)
    _send(forge, events)
    return JSONResponse(body)


@router.get("/repos/{owner}/{repo}/issues/{issue_number:int}/comments")
async def list_comments(
    request: Request, issue_number: int, forge: ForgeDep, r: ReadRepo
) -> JSONResponse:
    with forge.lock:
        comments = forge.comments_of(r, _item(forge, r, issue_number))
        body = [shapes_items.comment(forge, r, c) for c in comments]
    return page(request, body)


@router.post("/repos/{owner}/{repo}/issues/{issue_number:int}/comments")
async def create_comment(
    request: Request, issue_number: int, forge: ForgeDep, r: WriteRepo
) -> JSONResponse:
    data = await json_body(request)
    if not isinstance(data.get("body"), str):
        raise validation_failed("IssueComment", "body", "missing_field")
    with forge.lock:
        item = _item(forge, r, issue_number)
        created = forge.add_comment(r, item, forge.bot_login, data["body"], via_app=True)
        event = payloads.comment_event(forge, r, created, "created", forge.bot_login)
        body = shapes_items.comment(forge, r, created)
    forge.emit(event, by_bot=True)
    return JSONResponse(body, status_code=201)


@router.patch("/repos/{owner}/{repo}/issues/comments/{comment_id:int}")
async def update_comment(
    request: Request, comment_id: int, forge: ForgeDep, r: WriteRepo
) -> JSONResponse:
    data = await json_body(request)
    if not isinstance(data.get("body"), str):
        raise validation_failed("IssueComment", "body", "missing_field")
    with forge.lock:
        try:
            found = forge.get_comment(r, comment_id)
        except ForgeNotFound:
            raise not_found() from None
        before = forge.edit_comment(found, data["body"])
        changes = {"body": {"from": before}}
        event = payloads.comment_event(forge, r, found, "edited", forge.bot_login, changes)
        body = shapes_items.comment(forge, r, found)
    forge.emit(event, by_bot=True)
    return JSONResponse(body)


@router.post("/repos/{owner}/{repo}/issues/{issue_number:int}/labels")
async def add_labels(
    request: Request, issue_number: int, forge: ForgeDep, r: WriteRepo
) -> JSONResponse:
    """Unknown labels are created (grey), as GitHub does. Answers all the item's labels."""
    data = await json_body(request)
    names = _str_list(data, "labels")
    if not names:
        raise validation_failed("Label", "labels", "missing_field")
    with forge.lock:
        item = _item(forge, r, issue_number)
        added = forge.add_labels(r, item, names, actor=forge.bot_login)
        events = [payloads.labeled(forge, r, item, lab, forge.bot_login) for lab in added]
        body = [shapes_items.label(forge, r, lab) for lab in forge.issue_labels(r, item)]
    _send(forge, events)
    return JSONResponse(body)


@router.delete("/repos/{owner}/{repo}/issues/{issue_number:int}/labels/{name:path}")
async def remove_label(issue_number: int, name: str, forge: ForgeDep, r: WriteRepo) -> JSONResponse:
    with forge.lock:
        item = _item(forge, r, issue_number)
        try:
            removed = forge.remove_label(r, item, name, actor=forge.bot_login)
        except ForgeNotFound:
            raise GitHubError(404, "Label does not exist") from None
        event = payloads.labeled(forge, r, item, removed, forge.bot_login, "unlabeled")
        body = [shapes_items.label(forge, r, lab) for lab in forge.issue_labels(r, item)]
    forge.emit(event, by_bot=True)
    return JSONResponse(body)


@router.post("/repos/{owner}/{repo}/issues/{issue_number:int}/assignees")
async def add_assignees(
    request: Request, issue_number: int, forge: ForgeDep, r: WriteRepo
) -> JSONResponse:
    """Logins that cannot be assigned are silently ignored, as on GitHub."""
    data = await json_body(request)
    with forge.lock:
        item = _item(forge, r, issue_number)
        added = forge.add_assignees(
            r, item, _str_list(data, "assignees") or [], actor=forge.bot_login
        )
        events = [payloads.assigned(forge, r, item, a, forge.bot_login) for a in added]
        body = shapes_items.issue(forge, r, item, rest=True)
    _send(forge, events)
    return JSONResponse(body, status_code=201)


@router.delete("/repos/{owner}/{repo}/issues/{issue_number:int}/assignees")
async def remove_assignees(
    request: Request, issue_number: int, forge: ForgeDep, r: WriteRepo
) -> JSONResponse:
    data = await json_body(request)
    with forge.lock:
        item = _item(forge, r, issue_number)
        removed = forge.remove_assignees(
            r, item, _str_list(data, "assignees") or [], actor=forge.bot_login
        )
        bot = forge.bot_login
        events = [payloads.assigned(forge, r, item, a, bot, "unassigned") for a in removed]
        body = shapes_items.issue(forge, r, item, rest=True)
    _send(forge, events)
    return JSONResponse(body)
