"""The simulated GitLab's webhook endpoints: project and group hooks, their delivery logs
(`GET .../hooks/:hook_id/events`, the last seven days, newest first, offset pages, `status`
filter) and `POST .../events/:hook_event_id/resend` (201 `{"response_status": ...}`; 422
when the hook's URL changed since; 429 past five a minute per hook). Shapes follow GitLab's
`group_webhooks.md`/`project_webhooks.md` examples and the logged delivery in
`../shared/gitlab/api-examples/gitlab-docs/group-hook-event.json` (tests/test_gitlab_recovery.py).
Listing a project's hooks needs Maintainer; a group's, Owner (as on GitLab).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from bot.sim.gitlab.api import Call, HTTPError, Route, _page
from bot.sim.gitlab.world import MAINTAINER, OWNER, Json, WebHook

KEPT = timedelta(days=7)  # GitLab lists a hook's events of the last seven days
RESENDS_PER_MINUTE = 5
CATEGORIES = {"successful": range(200, 300), "client_failure": range(400, 500),
              "server_failure": range(500, 600)}  # fmt: skip
EVENTS = ("push_events", "issues_events", "confidential_issues_events", "merge_requests_events",
          "tag_push_events", "note_events", "confidential_note_events", "job_events",
          "pipeline_events", "wiki_page_events")  # fmt: skip


def _parent(call: Call) -> str:
    """The project's or group's path of `/:scope/:id/...`, after the bot's access is checked."""
    scope, ident = call.args[0], unquote(call.args[1])
    world, bot = call.world, call.bot_id()
    if scope == "projects":
        found = next((p.path for p in world.projects.values() if ident in (p.path, str(p.id))), "")
        if not found:
            raise HTTPError(404, "404 Project Not Found")
        path, needed = found, MAINTAINER
    else:
        path = next((g["full_path"] for g in world.groups.values()
                     if ident in (g["full_path"], str(g["id"]))), "")  # fmt: skip
        if not path:
            raise HTTPError(404, "404 Group Not Found")
        needed = OWNER
    if (world.access_level(path, bot) or 0) < needed:
        raise HTTPError(403, "403 Forbidden")
    return path


def _hook(call: Call) -> WebHook:
    scope, hook_id = call.args[0], int(call.args[2])
    path = _parent(call)
    hook = call.world.hooks.get(hook_id)
    if hook is None or hook.scope != scope or hook.parent != path:
        raise HTTPError(404, "404 Not found")
    return hook


def hook_json(call: Call, hook: WebHook) -> Json:
    owner: Json = {"project_id": call.world.projects[hook.parent].id} if hook.scope == "projects" \
        else {"group_id": call.world.groups[hook.parent]["id"]}  # fmt: skip
    return {
        "id": hook.id,
        "url": hook.url,
        "name": "",
        "description": "",
        **owner,
        **dict.fromkeys(EVENTS, True),
        "enable_ssl_verification": True,
        "repository_update_events": False,
        "alert_status": "executable",
        "disabled_until": None,
        "url_variables": [],
        "created_at": "2025-01-01T00:00:00.000Z",
        "custom_webhook_template": "",
        "custom_headers": [],
    }


async def list_hooks(call: Call) -> tuple[int, Any, dict[str, str]]:
    scope = call.args[0]
    path = _parent(call)
    rows = [hook_json(call, h) for h in call.world.hooks.values()
            if h.scope == scope and h.parent == path]  # fmt: skip
    return _page(call, rows)


def _matches(log: Json, wanted: str) -> bool:
    status = log["response_status"]
    if wanted in CATEGORIES:
        return status.isdigit() and int(status) in CATEGORIES[wanted]
    return status == wanted


async def list_events(call: Call) -> tuple[int, Any, dict[str, str]]:
    hook = _hook(call)
    since = call.world.clock.now() - KEPT
    rows = [log for log in reversed(hook.logs) if _when(log) >= since]
    if call.params.get("status"):
        rows = [log for log in rows if _matches(log, call.params["status"])]
    return _page(call, rows)


def _when(log: Json) -> datetime:
    return datetime.fromisoformat(log["created_at"].replace("Z", "+00:00")).astimezone(UTC)


async def resend(call: Call) -> tuple[int, Any, dict[str, str]]:
    hook, event_id = _hook(call), int(call.args[3])
    log = next((entry for entry in hook.logs if entry["id"] == event_id), None)
    if log is None:
        raise HTTPError(404, "404 Not found")
    now = call.world.clock.now().timestamp()
    hook.resends[:] = [t for t in hook.resends if t > now - 60]
    if len(hook.resends) >= RESENDS_PER_MINUTE:
        return (
            429,
            {"message": "This endpoint has been requested too many times."},
            {"Retry-After": "60"},
        )
    if log["url"] != hook.url:
        raise HTTPError(422, "The hook URL has changed, and this log entry cannot be retried")
    hook.resends.append(now)
    return 201, {"response_status": call.world.sender.resend(hook, log)}, {}


H = r"/api/v4/(projects|groups)/([^/]+)/hooks"
ROUTES: list[Route] = [
    ("GET", re.compile(H), list_hooks),
    ("GET", re.compile(H + r"/(\d+)/events"), list_events),
    ("POST", re.compile(H + r"/(\d+)/events/(\d+)/resend"), resend),
]
