"""The simulated GitLab's REST API v4 as an ASGI app: the endpoints `GitLabAPI` calls, with
GitLab's pagination headers (`X-Page`, `X-Next-Page`, `X-Total`, `Link`), rate-limit headers
(`RateLimit-*`, and `429` with `Retry-After` when a test asks), and `PRIVATE-TOKEN` auth.

Routes match the raw path, so URL-encoded project paths (`city%2Fapp`) stay one segment.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.types import Receive, Scope, Send

from bot.sim.gitlab import oauth
from bot.sim.gitlab.hooks import hook_label, item_hook, note_hook
from bot.sim.gitlab.items import add_note
from bot.sim.gitlab.world import GitLabWorld, Json, Project

Handler = Callable[["Call"], Awaitable[tuple[int, Any, dict[str, str]]]]
_SEG = r"([^/]+)"


class HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Call:
    def __init__(self, world: GitLabWorld, method: str, params: dict[str, str], body: Any):
        self.world = world
        self.method = method
        self.params = params
        self.body = body if isinstance(body, dict) else {}
        self.args: tuple[str, ...] = ()
        self.user_id = int(world.bot["id"])  # whose token: Veilleur's bot or a signed-in user

    def project(self) -> Project:
        key = unquote(self.args[0])
        for p in self.world.projects.values():
            if p.path == key or str(p.id) == key:
                return p
        raise HTTPError(404, "404 Project Not Found")

    def bot_id(self) -> int:
        return int(self.world.bot["id"])


def _public(obj: Json) -> Json:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _page(call: Call, rows: list[Any]) -> tuple[int, Any, dict[str, str]]:
    per = max(1, min(int(call.params.get("per_page", "20") or 20), 100))
    page = max(1, int(call.params.get("page", "1") or 1))
    total_pages = max(1, -(-len(rows) // per))
    chunk = rows[(page - 1) * per : page * per]
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per),
        "X-Next-Page": str(page + 1) if page < total_pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "X-Total": str(len(rows)),
        "X-Total-Pages": str(total_pages),
    }
    return 200, chunk, headers


def _items(project: Project, kind: str) -> dict[int, Json]:
    return project.merge_requests if kind == "merge_requests" else project.issues


def _item(call: Call) -> tuple[Project, str, Json]:
    project = call.project()
    kind, iid = call.args[1], int(call.args[2])
    item = _items(project, kind).get(iid)
    if item is None:
        raise HTTPError(404, "404 Not found")
    return project, kind, item


# -- handlers -----------------------------------------------------------------------------------
def _project_json(world: GitLabWorld, p: Project) -> Json:
    return {
        "id": p.id,
        "description": "",
        "name": p.path.rpartition("/")[2],
        "name_with_namespace": p.path.replace("/", " / "),
        "path": p.path.rpartition("/")[2],
        "path_with_namespace": p.path,
        "created_at": "2025-01-01T00:00:00.000Z",
        "default_branch": p.default_branch,
        "web_url": f"{world.url}/{p.path}",
        "visibility": p.visibility,
        "archived": False,
        "namespace": {"full_path": p.namespace, "kind": "group"},
    }


async def get_project(call: Call) -> tuple[int, Any, dict[str, str]]:
    return 200, _project_json(call.world, call.project()), {}


def _min_level(call: Call) -> int:
    raw = call.params.get("min_access_level", "")
    return int(raw) if raw.isdigit() else 0


async def list_projects(call: Call) -> tuple[int, Any, dict[str, str]]:
    """The caller's projects (as `membership=true`), at `min_access_level` or above."""
    least = _min_level(call)
    rows = [
        _project_json(call.world, p)
        for p in call.world.projects.values()
        if (call.world.access_level(p.path, call.user_id) or -1) >= least
    ]
    return _page(call, rows)


async def list_groups(call: Call) -> tuple[int, Any, dict[str, str]]:
    """`GET /groups`: public groups and the caller's; with `min_access_level`, only the
    groups where the caller has that level, directly or from an ancestor group."""
    least = _min_level(call)
    rows = []
    for path, group in sorted(call.world.groups.items()):
        level = call.world.access_level(path, call.user_id)
        shown = (
            (level or -1) >= least
            if least
            else level is not None or group["visibility"] == "public"
        )
        if shown:
            extra = {"avatar_url": None, "web_url": f"{call.world.url}/groups/{path}"}
            rows.append({k: v for k, v in group.items() if k != "members"} | extra)
    return _page(call, rows)


async def group_projects(call: Call) -> tuple[int, Any, dict[str, str]]:
    """`GET /groups/:id/projects` (`include_subgroups`), those the token's user can see."""
    group = unquote(call.args[0])
    if group not in call.world.groups:
        raise HTTPError(404, "404 Group Not Found")
    deep = call.params.get("include_subgroups") == "true"
    bot = call.user_id
    rows = [
        _project_json(call.world, p)
        for p in call.world.projects.values()
        if (p.namespace == group or (deep and p.namespace.startswith(group + "/")))
        and (p.visibility == "public" or call.world.access_level(p.path, bot) is not None)
    ]
    return _page(call, rows)


async def get_file(call: Call) -> tuple[int, Any, dict[str, str]]:
    project, path = call.project(), unquote(call.args[1])
    if path not in project.files:
        raise HTTPError(404, "404 File Not Found")
    raw = project.files[path].encode()
    return (
        200,
        {
            "file_name": path.rpartition("/")[2],
            "file_path": path,
            "size": len(raw),
            "encoding": "base64",
            "content": base64.b64encode(raw).decode(),
            "ref": call.params.get("ref") or project.default_branch,
            "blob_id": "0" * 40,
            "commit_id": "0" * 40,
            "last_commit_id": "0" * 40,
        },
        {},
    )


async def get_tree(call: Call) -> tuple[int, Any, dict[str, str]]:
    project = call.project()
    base = call.params.get("path", "").strip("/")
    prefix = f"{base}/" if base else ""
    entries: dict[str, str] = {}
    for path in project.files:
        if path.startswith(prefix):
            head, sep, _ = path[len(prefix) :].partition("/")
            entries[head] = "tree" if sep else entries.get(head, "blob")
    if base and not entries:
        raise HTTPError(404, "404 Tree Not Found")
    rows = [
        {"id": "0" * 40, "name": n, "type": t, "path": prefix + n, "mode": "100644"}
        for n, t in sorted(entries.items())
    ]
    return _page(call, rows)


async def list_users(call: Call) -> tuple[int, Any, dict[str, str]]:
    wanted = call.params.get("username", "").lower()
    rows = [u for u in call.world.users.values() if not wanted or u["username"].lower() == wanted]
    return _page(call, rows)


async def get_user(call: Call) -> tuple[int, Any, dict[str, str]]:
    user = call.world.users.get(int(call.args[0]))
    if user is None:
        raise HTTPError(404, "404 User Not Found")
    return 200, user, {}


async def current_user(call: Call) -> tuple[int, Any, dict[str, str]]:
    return 200, call.world.users[call.user_id], {}


async def member_all(call: Call) -> tuple[int, Any, dict[str, str]]:
    where, uid = unquote(call.args[1]), int(call.args[2])
    if call.args[0] == "groups" and where not in call.world.groups:
        raise HTTPError(404, "404 Group Not Found")
    if call.args[0] == "projects":
        call.args = (call.args[1],)
        where = call.project().path
    level = call.world.access_level(where, uid)
    if level is None or uid not in call.world.users:
        raise HTTPError(404, "404 Member Not Found")
    member = call.world.brief_user(uid) | {
        "access_level": level,
        "created_at": "2025-01-01T00:00:00.000Z",
        "expires_at": None,
    }
    return 200, member, {}


async def list_members(call: Call) -> tuple[int, Any, dict[str, str]]:
    """`GET /projects/:id/members/all`: direct and inherited members, highest level each."""
    project = call.project()
    rows = []
    for uid in sorted(call.world.users):
        level = call.world.access_level(project.path, uid)
        if level is not None:
            rows.append(call.world.brief_user(uid) | {"access_level": level, "expires_at": None})
    return _page(call, rows)


async def list_items(call: Call) -> tuple[int, Any, dict[str, str]]:
    project, kind = call.project(), call.args[1]
    state = call.params.get("state", "all")
    author = call.params.get("author_username", "").lower()
    after = _instant(call.params.get("updated_after"))
    rows = [
        _public(i)
        for _, i in sorted(_items(project, kind).items(), reverse=call.params.get("sort") != "asc")
        if (state == "all" or i["state"] == state or (state == "closed" and i["state"] == "merged"))
        and (not author or i["author"]["username"].lower() == author)
        and (after is None or (_instant(i["updated_at"]) or after) >= after)
    ]
    return _page(call, rows)


def _instant(value: str | None) -> datetime | None:
    """`updated_after` and the items' times (ISO 8601) as instants."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPError(400, "400 Bad request - updated_after is invalid") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def create_issue(call: Call) -> tuple[int, Any, dict[str, str]]:
    from bot.sim.gitlab.items import new_item

    project = call.project()
    labels = [x for x in str(call.body.get("labels") or "").split(",") if x]
    item = new_item(
        call.world,
        project,
        call.bot_id(),
        str(call.body.get("title") or ""),
        str(call.body.get("description") or ""),
        labels=labels,
    )
    call.world.sender.enqueue(*item_hook(call.world, project, item, call.bot_id(), "open"))
    return 201, _public(item), {}


async def get_item(call: Call) -> tuple[int, Any, dict[str, str]]:
    return 200, _public(_item(call)[2]), {}


async def update_item(call: Call) -> tuple[int, Any, dict[str, str]]:
    _, _, item = _item(call)
    body, world = call.body, call.world
    for src, dst in (("title", "title"), ("description", "description")):
        if src in body:
            item[dst] = str(body[src])
    event = body.get("state_event")
    if event == "close" and item["state"] == "opened":
        item.update(
            state="closed", closed_at=world.now(), closed_by=world.brief_user(call.bot_id())
        )
    elif event == "reopen" and item["state"] == "closed":
        item.update(state="opened", closed_at=None, closed_by=None)
    before = (item["state"], list(item["labels"]))
    labels = set(item["labels"])
    labels |= {x for x in str(body.get("add_labels") or "").split(",") if x}
    labels -= {x for x in str(body.get("remove_labels") or "").split(",") if x}
    item["labels"] = sorted(labels)
    if "assignee_ids" in body:
        ids = [int(i) for i in body["assignee_ids"] or [] if int(i) in world.users]
        item["assignees"] = [world.brief_user(i) for i in ids]
        item["assignee"] = item["assignees"][0] if ids else None
    item["updated_at"] = world.now()
    _echo_update(call, item, before, event)
    return 200, _public(item), {}


def _echo_update(call: Call, item: Json, before: tuple[str, list[str]], event: Any) -> None:
    """The hook GitLab sends for the bot's own change (Veilleur must know it for its own)."""
    project, kind, _ = _item(call)
    merge = kind == "merge_requests"
    if before[1] != item["labels"]:
        was = [hook_label(project, n) for n in before[1]]
        now = [hook_label(project, n) for n in item["labels"]]
        changes = {"labels": {"previous": was, "current": now}}
        hook = item_hook(call.world, project, item, call.bot_id(), "update", merge=merge,
                         changes=changes)  # fmt: skip
        call.world.sender.enqueue(*hook)
    if before[0] != item["state"] and event in ("close", "reopen"):
        hook = item_hook(call.world, project, item, call.bot_id(), event, merge=merge)
        call.world.sender.enqueue(*hook)


async def list_notes(call: Call) -> tuple[int, Any, dict[str, str]]:
    project, kind, item = _item(call)
    return _page(call, list(project.notes.get((kind, item["iid"]), [])))


async def create_note(call: Call) -> tuple[int, Any, dict[str, str]]:
    project, _, item = _item(call)
    if not call.body.get("body"):
        raise HTTPError(400, "400 Bad request - body is missing")
    note = add_note(call.world, project, item, call.bot_id(), str(call.body["body"]))
    merge = "source_branch" in item
    call.world.sender.enqueue(*note_hook(call.world, project, item, note, merge))
    return 201, note, {}


async def update_note(call: Call) -> tuple[int, Any, dict[str, str]]:
    project, kind, item = _item(call)
    for note in project.notes.get((kind, item["iid"]), []):
        if note["id"] == int(call.args[3]):
            if note["author"]["id"] != call.bot_id():
                raise HTTPError(403, "403 Forbidden")
            note.update(body=str(call.body.get("body") or ""), updated_at=call.world.now())
            return 200, note, {}
    raise HTTPError(404, "404 Note Not Found")


async def get_label(call: Call) -> tuple[int, Any, dict[str, str]]:
    label = call.project().labels.get(unquote(call.args[1]).lower())
    if label is None:
        raise HTTPError(404, "404 Label Not Found")
    return 200, label, {}


async def create_label(call: Call) -> tuple[int, Any, dict[str, str]]:
    project, name = call.project(), str(call.body.get("name") or "")
    if not name or not re.fullmatch(r"#[0-9a-fA-F]{6}", str(call.body.get("color") or "")):
        raise HTTPError(400, "400 Bad request - color is invalid")
    if name.lower() in project.labels:
        raise HTTPError(409, "Label already exists")
    label = {
        "id": call.world.new_id(),
        "name": name,
        "color": call.body["color"],
        "text_color": "#FFFFFF",
        "description": call.body.get("description") or None,
        "description_html": call.body.get("description") or "",
        "open_issues_count": 0,
        "closed_issues_count": 0,
        "open_merge_requests_count": 0,
        "subscribed": False,
        "priority": None,
        "is_project_label": True,
        "archived": False,
    }
    project.labels[name.lower()] = label
    return 201, label, {}


async def mr_diffs(call: Call) -> tuple[int, Any, dict[str, str]]:
    item = _item(call)[2]
    rows = [
        {"old_path": f, "new_path": f, "a_mode": "100644", "b_mode": "100644", "diff": "",
         "new_file": False, "renamed_file": False, "deleted_file": False}
        for f in item["_files"]
    ]  # fmt: skip
    return _page(call, rows)


async def mr_commits(call: Call) -> tuple[int, Any, dict[str, str]]:
    return _page(call, list(_item(call)[2]["_commits"]))


async def mr_approvals(call: Call) -> tuple[int, Any, dict[str, str]]:
    item = _item(call)[2]
    by = [{"user": call.world.brief_user(u)} for u in item["_approved_by"]]
    fields = ("id", "iid", "project_id", "title", "description", "state", "created_at")
    out = {k: item[k] for k in fields} | {"approved_by": by, "approvals_left": 0}
    return 200, out, {}


async def create_status(call: Call) -> tuple[int, Any, dict[str, str]]:
    project = call.project()
    status = {
        "id": call.world.new_id(),
        "sha": call.args[1],
        "status": call.body.get("state"),
        "name": call.body.get("name"),
        "description": call.body.get("description"),
        "created_at": call.world.now(),
    }
    project.statuses.append(status)
    return 201, status, {}


P = r"/api/v4/projects/" + _SEG
ITEM = P + r"/(issues|merge_requests)/(\d+)"
Route = tuple[str, re.Pattern[str], Handler]
ROUTES: list[Route] = [
    ("GET", re.compile(r"/api/v4/projects"), list_projects),
    ("GET", re.compile(P), get_project),
    ("GET", re.compile(r"/api/v4/groups/" + _SEG + r"/projects"), group_projects),
    ("GET", re.compile(P + r"/repository/files/" + _SEG), get_file),
    ("GET", re.compile(P + r"/repository/tree"), get_tree),
    ("GET", re.compile(r"/api/v4/users"), list_users),
    ("GET", re.compile(r"/api/v4/users/(\d+)"), get_user),
    ("GET", re.compile(r"/api/v4/user"), current_user),
    ("GET", re.compile(r"/api/v4/groups"), list_groups),
    ("GET", re.compile(r"/api/v4/(groups|projects)/" + _SEG + r"/members/all/(\d+)"), member_all),
    ("GET", re.compile(P + r"/members/all"), list_members),
    ("GET", re.compile(P + r"/(issues|merge_requests)"), list_items),
    ("POST", re.compile(P + r"/(issues)"), create_issue),
    ("GET", re.compile(ITEM), get_item),
    ("PUT", re.compile(ITEM), update_item),
    ("GET", re.compile(ITEM + r"/notes"), list_notes),
    ("POST", re.compile(ITEM + r"/notes"), create_note),
    ("PUT", re.compile(ITEM + r"/notes/(\d+)"), update_note),
    ("GET", re.compile(P + r"/labels/" + _SEG), get_label),
    ("POST", re.compile(P + r"/labels"), create_label),
    ("GET", re.compile(P + r"/(merge_requests)/(\d+)/diffs"), mr_diffs),
    ("GET", re.compile(P + r"/(merge_requests)/(\d+)/commits"), mr_commits),
    ("GET", re.compile(P + r"/(merge_requests)/(\d+)/approvals"), mr_approvals),
    ("POST", re.compile(P + r"/statuses/" + _SEG), create_status),
]


def _caller(world: GitLabWorld, method: str, headers: dict[str, str]) -> tuple[int, Any]:
    """(user id, None) for Veilleur's `PRIVATE-TOKEN` (its bot) or a user's OAuth token, or
    (0, (status, body)) when refused: 401 unknown, 403 a `read_api` token asked to write."""
    if headers.get("private-token") == world.api_token:
        return int(world.bot["id"]), None
    scheme, _, value = headers.get("authorization", "").partition(" ")
    found = oauth.oauth(world).token_user(value.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        return 0, (401, {"message": "401 Unauthorized"})
    user_id, scopes = found
    if "api" not in scopes and (method != "GET" or "read_api" not in scopes):
        need = "api" if method != "GET" else "api read_api"
        return 0, (403, {"error": "insufficient_scope", "scope": need})
    return user_id, None


class RestApp:
    def __init__(self, world: GitLabWorld, extra: list[Route] | None = None) -> None:
        """`extra`: more routes (bot/sim/gitlab/hook_api.py's webhook endpoints)."""
        self.world = world
        self.routes = ROUTES + (extra or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, payload, headers = await self.answer(scope, body)
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        ctype = b"text/plain" if isinstance(payload, bytes) else b"application/json"
        ctype = headers.pop("Content-Type", "").encode() or ctype
        out = [(b"content-type", ctype), (b"content-length", str(len(raw)).encode())]
        out += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": raw})

    async def answer(self, scope: Scope, body: bytes) -> tuple[int, Any, dict[str, str]]:
        world = self.world
        path = scope.get("raw_path", scope["path"].encode()).decode().split("?", 1)[0]
        params = dict(parse_qsl(scope.get("query_string", b"").decode()))
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with world.lock:
            world.requests.append((scope["method"], path))
            if (scope["method"], path) == ("GET", "/oauth/authorize"):
                return oauth.authorize(world, params)
            if (scope["method"], path) == ("POST", "/oauth/token"):
                return oauth.token(world, body, headers)
            world.observed += 1
            limits = {
                "RateLimit-Name": "throttle_authenticated_api",
                "RateLimit-Limit": str(world.rate_limit),
                "RateLimit-Observed": str(world.observed),
                "RateLimit-Remaining": str(max(world.rate_limit - world.observed, 0)),
                "RateLimit-Reset": str(int(world.clock.now().timestamp()) + 60),
            }
            if world.throttle_next:
                wait = world.throttle_next.pop(0)
                return 429, b"Retry later\n", limits | {"Retry-After": str(wait)}
            if scope["method"] == "POST" and path == "/api/graphql":
                return self.graphql(headers, body, limits)
            user_id, refused = _caller(world, scope["method"], headers)
            if refused is not None:
                return refused[0], refused[1], limits
            for method, pattern, handler in self.routes:
                match = pattern.fullmatch(path)
                if method == scope["method"] and match:
                    call = Call(world, method, params, json.loads(body) if body else {})
                    call.args = match.groups()
                    call.user_id = user_id
                    try:
                        status, payload, extra = await handler(call)
                    except HTTPError as exc:
                        return exc.status, {"message": exc.message}, limits
                    return status, payload, limits | extra
        return 404, {"error": "404 Not Found"}, limits

    def graphql(
        self, headers: dict[str, str], body: bytes, limits: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """`POST /api/graphql`: the token as a bearer token (GitLab's GraphQL docs)."""
        from bot.sim.gitlab.graphql import execute

        if self.world.graphql == "off":
            return 404, {"error": "404 Not Found"}, limits
        if headers.get("authorization") != f"Bearer {self.world.api_token}":
            return 401, {"errors": [{"message": "Invalid token"}]}, limits
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            return 400, {"errors": [{"message": "Invalid JSON"}]}, limits
        status, answer = execute(self.world, request if isinstance(request, dict) else {})
        return status, answer, limits
