"""Webhook payloads shaped like GitLab's documented examples (../shared/gitlab/webhook-examples),
and their delivery with GitLab's headers: X-Gitlab-Event, X-Gitlab-Token, X-Gitlab-Event-UUID,
Idempotency-Key, X-Gitlab-Instance, and the HMAC signature headers when a signing token is set.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx

from bot.gitlab.signature import sign, signing_key
from bot.sim.delivery import tls_context

if TYPE_CHECKING:
    from bot.sim.gitlab.world import GitLabWorld, Project, WebHook

Json = dict[str, Any]
HEADER_OF = {
    "issue": "Issue Hook",
    "merge_request": "Merge Request Hook",
    "note": "Note Hook",
    "push": "Push Hook",
}
TRIGGER_OF = {kind: f"{kind}_hooks" for kind in HEADER_OF}  # a log entry's `trigger`
INTERNAL_ERROR = "internal error"  # GitLab's logged status when no HTTP answer came back


def hook_user(world: GitLabWorld, uid: int) -> Json:
    u = world.users[uid]
    return {
        "id": uid,
        "name": u["name"],
        "username": u["username"],
        "avatar_url": u["avatar_url"],
        "email": "[REDACTED]",
    }


def hook_project(world: GitLabWorld, project: Project) -> Json:
    web = f"{world.url}/{project.path}"
    host = world.url.split("://", 1)[-1]
    return {
        "id": project.id,
        "name": project.path.rpartition("/")[2],
        "description": "",
        "web_url": web,
        "avatar_url": None,
        "git_ssh_url": f"git@{host}:{project.path}.git",
        "git_http_url": f"{web}.git",
        "namespace": project.namespace.rpartition("/")[2],
        "visibility_level": 20 if project.visibility == "public" else 0,
        "path_with_namespace": project.path,
        "default_branch": project.default_branch,
        "homepage": web,
        "url": f"git@{host}:{project.path}.git",
        "ssh_url": f"git@{host}:{project.path}.git",
        "http_url": f"{web}.git",
    }


def _repository(world: GitLabWorld, project: Project) -> Json:
    web = f"{world.url}/{project.path}"
    name = project.path.rpartition("/")[2]
    return {"name": name, "url": f"{web}.git", "description": "", "homepage": web}


def hook_label(project: Project, name: str) -> Json:
    label = project.labels.get(name.lower()) or {"id": 0, "name": name, "color": "#ededed"}
    return {
        "id": label["id"],
        "title": label["name"],
        "color": label["color"],
        "project_id": project.id,
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
        "template": False,
        "description": label.get("description") or "",
        "type": "ProjectLabel",
        "group_id": None,
    }


def _attributes(world: GitLabWorld, project: Project, item: Json, merge: bool) -> Json:
    author_id = item["author"]["id"]
    attrs: Json = {
        "id": item["id"],
        "iid": item["iid"],
        "title": item["title"],
        "description": item["description"],
        "author_id": author_id,
        "assignee_ids": [a["id"] for a in item["assignees"]],
        "project_id": project.id,
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
        "state": item["state"],
        "url": item["web_url"],
        "labels": [hook_label(project, n) for n in item["labels"]],
    }
    if merge:
        del attrs["project_id"]  # merge request hooks name source and target projects instead
        attrs.update(
            source_branch=item["source_branch"],
            target_branch=item["target_branch"],
            source_project_id=project.id,
            target_project_id=project.id,
            draft=item["draft"],
            work_in_progress=item["draft"],
            merge_status=item["merge_status"],
            last_commit={"id": item["sha"], "message": item["title"], "title": item["title"]},
            reviewer_ids=[r["id"] for r in item["reviewers"]],
        )
    return attrs


def item_hook(
    world: GitLabWorld,
    project: Project,
    item: Json,
    actor_id: int,
    action: str,
    *,
    merge: bool = False,
    changes: Json | None = None,
    oldrev: str | None = None,
) -> tuple[str, Json]:
    attrs = _attributes(world, project, item, merge) | {"action": action}
    if oldrev:
        attrs["oldrev"] = oldrev
    kind = "merge_request" if merge else "issue"
    body: Json = {
        "object_kind": kind,
        "event_type": kind,
        "user": hook_user(world, actor_id),
        "project": hook_project(world, project),
        "object_attributes": attrs,
        "repository": _repository(world, project),
        "labels": attrs["labels"],
        "changes": changes or {},
        "assignees": [hook_user(world, a["id"]) for a in item["assignees"]],
    }
    if merge:
        body["reviewers"] = [hook_user(world, r["id"]) for r in item["reviewers"]]
    return kind, body


def note_hook(
    world: GitLabWorld, project: Project, item: Json, note: Json, merge: bool
) -> tuple[str, Json]:
    target = _attributes(world, project, item, merge)
    for key in ("url", "reviewer_ids"):  # the item inside a note hook has neither
        target.pop(key, None)
    if merge:  # nor, for a merge request, the list of assignees (only `assignee_id`)
        target["assignee_id"] = (target.pop("assignee_ids") or [None])[0]
    attrs = {
        "id": note["id"],
        "note": note["body"],
        "noteable_type": "MergeRequest" if merge else "Issue",
        "author_id": note["author"]["id"],
        "created_at": note["created_at"],
        "updated_at": note["updated_at"],
        "project_id": project.id,
        "attachment": None,
        "line_code": None,
        "commit_id": "",
        "noteable_id": item["id"],
        "system": False,
        "st_diff": None,
        "url": f"{item['web_url']}#note_{note['id']}",
        "action": "create",
    }
    return "note", {
        "object_kind": "note",
        "event_type": "note",
        "user": hook_user(world, note["author"]["id"]),
        "project_id": project.id,
        "project": hook_project(world, project),
        "object_attributes": attrs,
        "repository": _repository(world, project),
        "merge_request" if merge else "issue": target,
    }


class HookSender:
    """POSTs hooks to the configured URL: people's synchronously (a test step returns once
    Veilleur answered), the bot's own through a queue and one thread (GitLab sends those too,
    and sending them from inside the REST call would block a bot that calls back); keeps
    every delivery for the tests to read."""

    def __init__(self, world: GitLabWorld) -> None:
        self.world = world
        self.sent: list[tuple[dict[str, str], bytes, int]] = []
        self._queue: queue.Queue[tuple[str, Json] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def enqueue(self, kind: str, payload: Json) -> None:
        if not self.world.webhook_url:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, daemon=True, name="gitlab-hooks")
            self._thread.start()
        self._queue.put((kind, payload))

    def _drain(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self.send(*job)
            except httpx.HTTPError:
                pass  # Veilleur away: GitLab would retry later; the tests look at `sent`
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def settle(self) -> None:
        """Until every queued hook was sent and answered."""
        self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def headers(
        self, kind: str, body: bytes, *, token: str | None = None, key: str | None = None
    ) -> dict[str, str]:
        """`key`: the Idempotency-Key of a resent delivery (the same as the first's)."""
        key = key or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitLab/18.2.0",
            "Idempotency-Key": key,
            "X-Gitlab-Event": HEADER_OF.get(kind, "System Hook"),
            "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
            "X-Gitlab-Event-UUID": str(uuid.uuid4()),
            "X-Gitlab-Instance": self.world.url,
        }
        secret = self.world.webhook_token if token is None else token
        if secret:
            headers["X-Gitlab-Token"] = secret
        if self.world.signing_token:
            stamp = int(self.world.clock.now().timestamp())
            key_bytes = signing_key(self.world.signing_token)
            headers["webhook-id"] = key
            headers["webhook-timestamp"] = str(stamp)
            headers["webhook-signature"] = sign(key_bytes, key, stamp, body)
        return headers

    def send(self, kind: str, payload: Json) -> int | str | None:
        """To every webhook of the project and its groups; with none, to `webhook_url`."""
        project = (payload.get("project") or {}).get("path_with_namespace", "")
        with self.world.lock:
            hooks = [h for h in self.world.hooks.values() if h.covers(project)]
        if hooks:
            return [self.deliver(h, kind, payload) for h in hooks][-1]
        url = self.world.webhook_url
        if not url:
            return None
        body = json.dumps(payload).encode()
        headers = self.headers(kind, body)
        resp = httpx.post(url, content=body, headers=headers, timeout=10, verify=tls_context())
        self.sent.append((headers, body, resp.status_code))
        return resp.status_code

    def deliver(self, hook: WebHook, kind: str, payload: Json, key: str | None = None) -> int | str:
        """One delivery to one webhook, logged as GitLab logs it (a failure is logged, not
        raised; `world.outage` makes it fail as a stopped or broken receiver would)."""
        body = json.dumps(payload).encode()
        headers = self.headers(kind, body, key=key)
        started = time.monotonic()
        status: int | str
        outage = self.world.outage
        try:
            if outage == INTERNAL_ERROR:
                raise httpx.ConnectError("Failed to open TCP connection (Connection refused)")
            if isinstance(outage, int):
                status, answer, text = outage, {}, "Service Unavailable"
            else:
                resp = httpx.post(
                    hook.url, content=body, headers=headers, timeout=10, verify=tls_context()
                )
                status, answer, text = resp.status_code, dict(resp.headers), resp.text
                if outage == "timeout":  # received, but answered after GitLab gave up
                    raise httpx.ReadTimeout("Net::ReadTimeout")
        except httpx.HTTPError as exc:
            status, answer, text = INTERNAL_ERROR, {}, str(exc)
        self.sent.append((headers, body, status))  # type: ignore[arg-type]
        logged = headers | ({"X-Gitlab-Token": "[REDACTED]"} if "X-Gitlab-Token" in headers else {})
        with self.world.lock:
            hook.logs.append({
                "id": self.world.new_id(),
                "url": hook.url,
                "trigger": TRIGGER_OF.get(kind, f"{kind}_hooks"),
                "request_headers": logged,
                "request_data": payload,
                "response_headers": answer,
                "response_body": text,
                "execution_duration": time.monotonic() - started,
                "response_status": str(status),
                "created_at": self.world.now(),
            })  # fmt: skip
        return status

    def resend(self, hook: WebHook, log: Json) -> int | str:
        """GitLab's Resend Request: the same body and Idempotency-Key, new UUIDs, a new log."""
        kind = next((k for k, t in TRIGGER_OF.items() if t == log["trigger"]), "push")
        key = log["request_headers"].get("Idempotency-Key")
        return self.deliver(hook, kind, log["request_data"], key=key)
