"""GitLab's REST and webhook objects told in Veilleur's neutral shape (bot/forge/types.py).

Pure functions: what GitLab calls `description`, `username`, `iid`, `opened` becomes `body`,
`login`, `number`, `open`. Labels keep their name; a GitLab colour `#rrggbb` loses its `#`.
"""

from __future__ import annotations

import re
from typing import Any

from bot.gitlab.numbers import item_number

# GitLab access levels (members API): 10 guest, 15 planner, 20 reporter, 30 developer,
# 40 maintainer, 50 owner. Mapped on Veilleur's permission words (bot/record/people.py).
ACCESS_PERMISSION = {
    50: "admin",
    40: "maintain",
    30: "developer",
    20: "read",
    15: "read",
    10: "read",
}
DEVELOPER = 30

# Users GitLab creates for project and group access tokens: `project_12_bot_<hex>`.
_TOKEN_BOT = re.compile(r"(?:project|group)_\d+_bot(?:_[0-9a-f]+)?\Z")


def permission_of(access_level: Any) -> str | None:
    if not isinstance(access_level, int):
        return None
    best = max((lvl for lvl in ACCESS_PERMISSION if lvl <= access_level), default=None)
    return ACCESS_PERMISSION[best] if best is not None else None


def user(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """`login`, `type` (`Bot` for GitLab bot users: project/group access tokens, service
    accounts), plus what the profile says (`company`, `email`, `name`)."""
    if not isinstance(data, dict) or not data.get("username"):
        return None
    is_bot = bool(data.get("bot")) or bool(_TOKEN_BOT.match(str(data["username"])))
    return {
        "login": str(data["username"]),
        "id": data.get("id"),
        "type": "Bot" if is_bot else "User",
        "name": data.get("name"),
        "company": data.get("organization") or None,
        "email": data.get("public_email") or data.get("email") or None,
    }


# Older hooks write `2015-05-17 17:06:40 UTC` or `2015-05-17 17:06:40 +0200`.
_HOOK_TIME = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) (?:UTC|([+-]\d\d)(\d\d))")


def timestamp(value: Any) -> Any:
    """ISO 8601, whichever of GitLab's two forms came in (other values pass unchanged)."""
    if isinstance(value, str) and len(value) <= 40:
        m = _HOOK_TIME.fullmatch(value)
        if m is not None:
            zone = f"{m.group(3)}:{m.group(4)}" if m.group(3) else "+00:00"
            return f"{m.group(1)}T{m.group(2)}{zone}"
    return value


def _state(value: Any) -> str:
    return "open" if value in ("opened", "open", "reopened") else "closed"


def _labels(values: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for v in values or []:
        if isinstance(v, str):
            out.append({"name": v})
        elif isinstance(v, dict) and (v.get("title") or v.get("name")):
            out.append(
                {
                    "name": v.get("name") or v.get("title"),
                    "color": str(v.get("color") or "").lstrip("#") or "ededed",
                    "description": v.get("description") or "",
                }
            )
    return out


def label(data: dict[str, Any]) -> dict[str, Any]:
    return _labels([data])[0]


def issue(data: dict[str, Any], repo: str, *, merge_request: bool = False) -> dict[str, Any]:
    """An issue or a merge request as a neutral issue (merge requests carry `pull_request`)."""
    iid = int(data["iid"])
    out: dict[str, Any] = {
        "id": data.get("id"),
        "number": item_number(iid, merge_request),
        "iid": iid,
        "title": data.get("title") or "",
        "body": data.get("description") or "",
        "state": _state(data.get("state")),
        "user": user(data.get("author")),
        "labels": _labels(data.get("labels")),
        "assignees": [u for u in (user(a) for a in data.get("assignees") or []) if u],
        "created_at": timestamp(data.get("created_at")),
        "updated_at": timestamp(data.get("updated_at")),
        "closed_at": timestamp(data.get("closed_at") or data.get("merged_at")),
        "html_url": data.get("web_url") or data.get("url"),
        "comments": data.get("user_notes_count", 0),
        "author_association": "NONE",  # GitLab has none: classes come from access levels
        "repository_full_name": repo,
    }
    if merge_request:
        out["pull_request"] = {"url": out["html_url"], "merged_at": data.get("merged_at")}
    return out


def merge_request(data: dict[str, Any], repo: str) -> dict[str, Any]:
    """A merge request as a neutral pull: draft, head and base, reviewers, merged."""
    out = issue(data, repo, merge_request=True)
    out.pop("pull_request", None)
    sha = data.get("sha") or (data.get("last_commit") or {}).get("id")
    out.update(
        draft=bool(data.get("draft") or data.get("work_in_progress")),
        merged=data.get("state") == "merged",
        merged_at=timestamp(data.get("merged_at")),
        head={"sha": sha, "ref": data.get("source_branch")},
        base={"ref": data.get("target_branch")},
        requested_reviewers=[u for u in (user(r) for r in data.get("reviewers") or []) if u],
        requested_teams=[],
    )
    return out


def note(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": data.get("id"),
        "body": data.get("body") or data.get("note") or "",
        "user": user(data.get("author")),
        "created_at": timestamp(data.get("created_at")),
        "updated_at": timestamp(data.get("updated_at")),
        "system": bool(data.get("system")),
    }


def project(data: dict[str, Any], host: str) -> dict[str, Any]:
    path = str(data.get("path_with_namespace") or "")
    full = f"{host}/{path}"
    return {
        "id": data.get("id"),
        "full_name": full,
        "name": data.get("path") or path.rpartition("/")[2],
        "owner": {"login": f"{host}/{path.rpartition('/')[0]}", "type": "Organization"},
        "default_branch": data.get("default_branch") or "main",
        "private": data.get("visibility", "public") != "public"
        if "visibility" in data
        else data.get("visibility_level", 20) != 20,
        "archived": bool(data.get("archived")),
        "html_url": data.get("web_url"),
    }
