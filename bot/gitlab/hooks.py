"""GitLab webhooks told as the events the handlers plan from (`issues`, `pull_request`,
`issue_comment`, `pull_request_review`, `membership`), so that triage, whose-turn, the record
and the SLA work on GitLab items unchanged.

`kind_of` and `row_fields` are pure (the intake uses them); `normalise` may ask the client for
an author's username, as GitLab's hooks name authors by id only.
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.gitlab import shapes
from bot.gitlab.numbers import item_number

EVENT_PREFIX = "gitlab/"
# A hook's `action` -> the action of the neutral event.
_ACTIONS = {"open": "opened", "close": "closed", "reopen": "reopened", "merge": "closed"}
_MEMBER_ACTIONS = {
    "user_add_to_group": "added",
    "user_update_for_group": "edited",
    "user_remove_from_group": "removed",
}


class Authors(Protocol):
    async def user_by_id(self, user_id: int) -> dict[str, Any] | None: ...


def canonical_path(path: Any) -> Any:
    """The inverse of the client's `gitlab_path`: `.gitlab/veilleur.yml` -> `.github/…`."""
    from bot.gitlab.client import WELL_KNOWN

    if isinstance(path, str):
        for canonical, own in WELL_KNOWN.items():
            if path == own or path.startswith(own + "/"):
                return canonical + path[len(own) :]
    return path


def kind_of(payload: dict[str, Any]) -> str:
    """`issue`, `merge_request`, `note`, `member`, … from the body (the header is a hint)."""
    kind = payload.get("object_kind") or payload.get("event_name") or "unknown"
    if kind in _MEMBER_ACTIONS or str(kind).startswith("user_access_request"):
        return "member"
    return "issue" if kind == "work_item" else str(kind)


def _path(payload: dict[str, Any]) -> str | None:
    project = payload.get("project")
    if isinstance(project, dict) and isinstance(project.get("path_with_namespace"), str):
        return str(project["path_with_namespace"])
    return None


def row_fields(
    payload: dict[str, Any], host: str
) -> tuple[str, str | None, str | None, int | None]:
    """(stored event name, action, qualified repository, item number) of a delivery row."""
    kind = kind_of(payload)
    attrs = payload.get("object_attributes")
    attrs = attrs if isinstance(attrs, dict) else {}
    action = attrs.get("action") if kind != "member" else payload.get("event_name")
    path = _path(payload)
    repo = f"{host}/{path}" if path else None
    number: int | None = None
    if kind in ("issue", "merge_request") and isinstance(attrs.get("iid"), int):
        number = item_number(attrs["iid"], kind == "merge_request")
    elif kind == "note":
        for key, is_mr in (("issue", False), ("merge_request", True)):
            target = payload.get(key)
            if isinstance(target, dict) and isinstance(target.get("iid"), int):
                number = item_number(target["iid"], is_mr)
    return EVENT_PREFIX + kind, action if isinstance(action, str) else None, repo, number


def _added_labels(payload: dict[str, Any]) -> list[dict[str, Any]]:
    change = (payload.get("changes") or {}).get("labels") or {}
    before = {lbl.get("title") for lbl in change.get("previous") or []}
    return [lbl for lbl in change.get("current") or [] if lbl.get("title") not in before]


async def _author(raw: dict[str, Any], sender: dict[str, Any] | None, api: Authors | None) -> Any:
    author_id = raw.get("author_id")
    if sender and author_id is not None and sender.get("id") == author_id:
        return sender
    if api is not None and isinstance(author_id, int):
        return await api.user_by_id(author_id)
    return None


async def _item(
    raw: dict[str, Any], payload: dict[str, Any], repo: str, is_mr: bool, api: Authors | None
) -> dict[str, Any]:
    sender = shapes.user(payload.get("user"))
    data = dict(raw)
    data.setdefault("labels", payload.get("labels") or [])
    data.setdefault("assignees", payload.get("assignees") or [])
    data.setdefault("reviewers", payload.get("reviewers") or [])
    data["web_url"] = raw.get("url")
    item = shapes.merge_request(data, repo) if is_mr else shapes.issue(data, repo)
    item["user"] = await _author(raw, sender, api) or {"login": "ghost", "type": "User"}
    if is_mr and raw.get("action") == "merge":
        item["merged"], item["state"] = True, "closed"
        item["merged_at"] = item.get("merged_at") or shapes.timestamp(raw.get("updated_at"))
    return item


async def normalise(
    name: str, payload: dict[str, Any], host: str, api: Authors | None
) -> tuple[str, str | None, dict[str, Any]]:
    """(event name, action, payload) as the handlers know them; name `gitlab_ignored` for hooks
    Veilleur has no use for (pushes, pipelines, …), which then match no handler."""
    kind = name.removeprefix(EVENT_PREFIX)
    sender = shapes.user(payload.get("user")) or {"login": "ghost", "type": "User"}
    project = payload.get("project")
    out: dict[str, Any] = {"sender": sender, "forge": "gitlab"}
    if isinstance(project, dict) and _path(payload):
        out["repository"] = shapes.project(project, host)
    repo = out.get("repository", {}).get("full_name", "")
    attrs = payload.get("object_attributes") or {}
    target = payload.get(
        "merge_request" if attrs.get("noteable_type") == "MergeRequest" else "issue"
    )
    if kind in ("issue", "merge_request") and not _is_iid(attrs.get("iid")):
        return "gitlab_ignored", "no iid", out  # not an item Veilleur can name
    if kind == "note" and not _is_iid((target or {}).get("iid")):
        return "gitlab_ignored", "no iid", out
    if kind == "issue" and repo:
        out["issue"] = await _item(attrs, payload, repo, False, api)
        return _issue_event("issues", attrs, payload, out)
    if kind == "merge_request" and repo:
        out["pull_request"] = pull = await _item(attrs, payload, repo, True, api)
        action = attrs.get("action")
        if action in ("approved", "approval", "unapproved", "unapproval"):
            state = "approved" if action in ("approved", "approval") else "dismissed"
            out["review"] = {"state": state, "user": sender, "body": ""}
            return "pull_request_review", "submitted" if state == "approved" else "dismissed", out
        if action == "update" and attrs.get("oldrev"):
            return "pull_request", "synchronize", out
        draft = (payload.get("changes") or {}).get("draft")
        if action == "update" and isinstance(draft, dict):
            ready = draft.get("previous") and not draft.get("current")
            return "pull_request", "ready_for_review" if ready else "converted_to_draft", out
        del pull["iid"]
        return _issue_event("pull_request", attrs, payload, out)
    if kind == "note" and repo and attrs.get("noteable_type") in ("Issue", "MergeRequest"):
        is_mr = attrs["noteable_type"] == "MergeRequest"
        target = payload.get("merge_request" if is_mr else "issue") or {}
        item = await _item(target, payload, repo, is_mr, api)
        out["issue"] = item
        if is_mr:
            item["pull_request"] = {"url": item.get("html_url")}
        out["comment"] = {
            "id": attrs.get("id"),
            "body": attrs.get("note") or "",
            "user": sender,
            "created_at": shapes.timestamp(attrs.get("created_at")),
            "html_url": attrs.get("url"),
        }
        return "issue_comment", "created", out
    if kind == "push" and repo:
        out["ref"] = payload.get("ref")
        out["before"], out["after"] = payload.get("before"), payload.get("after")
        out["commits"] = [  # paths at their canonical places, as the config loader knows them
            {
                k: [canonical_path(p) for p in c.get(k) or []]
                for k in ("added", "modified", "removed")
            }
            for c in payload.get("commits") or []
            if isinstance(c, dict)
        ]
        out["forced"] = False
        return "push", None, out
    if kind == "member":
        login = payload.get("user_username")
        out["membership"] = {"user": {"login": login, "type": "User"}}
        out["organization"] = {"login": f"{host}/{payload.get('group_path') or ''}"}
        action = _MEMBER_ACTIONS.get(str(payload.get("event_name")), "requested")
        return "membership", action, out
    return "gitlab_ignored", kind, out


def _is_iid(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _issue_event(
    name: str, attrs: dict[str, Any], payload: dict[str, Any], out: dict[str, Any]
) -> tuple[str, str | None, dict[str, Any]]:
    action = attrs.get("action")
    if action in _ACTIONS:
        return name, _ACTIONS[action], out
    added = _added_labels(payload)
    if added:
        out["label"] = {"name": added[0].get("title")}
        return name, "labeled", out
    if "assignees" in (payload.get("changes") or {}):
        return name, "assigned", out
    return name, "edited", out
