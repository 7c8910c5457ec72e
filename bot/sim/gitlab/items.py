"""What people do on the simulated GitLab: open issues and merge requests, comment, approve,
push. Each change is made in the world, then its webhook is delivered (bot/sim/gitlab/hooks.py).
Changes the bot makes through REST (bot/sim/gitlab/api.py) send no webhook: Veilleur ignores
its own events."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.sim.gitlab.hooks import item_hook, note_hook
from bot.sim.gitlab.world import GitLabWorld, Json, Project


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def new_item(
    world: GitLabWorld,
    project: Project,
    author_id: int,
    title: str,
    description: str,
    *,
    merge: bool = False,
    labels: list[str] | None = None,
) -> Json:
    kind = "merge_requests" if merge else "issues"
    iid = project.next_iid[kind]
    project.next_iid[kind] += 1
    now = world.now()
    web = f"{world.url}/{project.path}/-/{kind}/{iid}"
    ref = f"!{iid}" if merge else f"#{iid}"
    item: Json = {
        "id": world.new_id(),
        "iid": iid,
        "project_id": project.id,
        "title": title,
        "description": description,
        "state": "opened",
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
        "closed_by": None,
        "labels": list(labels or []),
        "milestone": None,
        "author": world.brief_user(author_id),
        "assignees": [],
        "assignee": None,
        "user_notes_count": 0,
        "upvotes": 0,
        "downvotes": 0,
        "discussion_locked": None,
        "web_url": web,
        "references": {"short": ref, "relative": ref, "full": f"{project.path}{ref}"},
        "subscribed": False,
    }
    if merge:
        item.update(
            merged_at=None,
            merge_user=None,
            target_branch=project.default_branch,
            source_branch=f"change-{iid}",
            reviewers=[],
            source_project_id=project.id,
            target_project_id=project.id,
            draft=title.lower().startswith(("draft:", "[draft]")),
            work_in_progress=title.lower().startswith(("draft:", "[draft]")),
            merge_status="can_be_merged",
            detailed_merge_status="mergeable",
            sha=_sha(f"{project.path}!{iid}:0"),
            merge_commit_sha=None,
            squash_commit_sha=None,
            has_conflicts=False,
            blocking_discussions_resolved=True,
            _files=[],
            _commits=[],
            _approved_by=[],
        )
    else:
        item.update(type="ISSUE", confidential=False, due_date=None, merge_requests_count=0)
    (project.merge_requests if merge else project.issues)[iid] = item
    return item


def open_issue(
    world: GitLabWorld, path: str, username: str, title: str, description: str = ""
) -> Json:
    with world.lock:
        project = world.projects[path]
        uid = world.user(username)["id"]
        item = new_item(world, project, uid, title, description)
        hook = item_hook(world, project, item, uid, "open")
    world.sender.send(*hook)
    return item


def open_merge_request(
    world: GitLabWorld,
    path: str,
    username: str,
    title: str,
    description: str = "",
    files: list[str] | None = None,
) -> Json:
    with world.lock:
        project = world.projects[path]
        uid = world.user(username)["id"]
        item = new_item(world, project, uid, title, description, merge=True)
        item["_files"] = list(files or ["README.md"])
        user = world.users[uid]
        item["_commits"] = [_commit(item["sha"], title, user)]
        hook = item_hook(world, project, item, uid, "open", merge=True)
    world.sender.send(*hook)
    return item


def _commit(sha: str, title: str, user: Json) -> Json:
    return {
        "id": sha,
        "short_id": sha[:8],
        "title": title,
        "message": title,
        "author_name": user["name"],
        "author_email": user["public_email"] or f"{user['username']}@users.noreply",
        "created_at": "2025-01-01T00:00:00.000Z",
    }


def _find(world: GitLabWorld, path: str, iid: int, merge: bool) -> tuple[Project, Json]:
    project = world.projects[path]
    return project, (project.merge_requests if merge else project.issues)[iid]


def add_note(world: GitLabWorld, project: Project, item: Json, uid: int, body: str) -> Json:
    kind = "merge_requests" if "source_branch" in item else "issues"
    now = world.now()
    note = {
        "id": world.new_id(),
        "body": body,
        "attachment": None,
        "author": world.brief_user(uid),
        "created_at": now,
        "updated_at": now,
        "system": False,
        "noteable_id": item["id"],
        "noteable_type": "MergeRequest" if kind == "merge_requests" else "Issue",
        "project_id": project.id,
        "noteable_iid": item["iid"],
        "resolvable": False,
        "confidential": False,
        "internal": False,
        "imported": False,
        "imported_from": "none",
    }
    project.notes.setdefault((kind, item["iid"]), []).append(note)
    item["user_notes_count"] += 1
    item["updated_at"] = now
    return note


def comment(
    world: GitLabWorld, path: str, iid: int, username: str, body: str, *, merge: bool = False
) -> Json:
    with world.lock:
        project, item = _find(world, path, iid, merge)
        uid = world.user(username)["id"]
        note = add_note(world, project, item, uid, body)
        hook = note_hook(world, project, item, note, merge)
    world.sender.send(*hook)
    return note


def approve(world: GitLabWorld, path: str, iid: int, username: str) -> None:
    with world.lock:
        project, item = _find(world, path, iid, True)
        uid = world.user(username)["id"]
        if uid not in item["_approved_by"]:
            item["_approved_by"].append(uid)
        hook = item_hook(world, project, item, uid, "approved", merge=True)
    world.sender.send(*hook)


def push(world: GitLabWorld, path: str, iid: int, username: str, files: list[str]) -> None:
    """A new commit on the merge request's source branch."""
    with world.lock:
        project, item = _find(world, path, iid, True)
        uid = world.user(username)["id"]
        old = item["sha"]
        item["sha"] = _sha(f"{old}:{len(item['_commits'])}")
        item["_files"] = sorted({*item["_files"], *files})
        item["_commits"].append(_commit(item["sha"], "more", world.users[uid]))
        item["updated_at"] = world.now()
        hook = item_hook(world, project, item, uid, "update", merge=True, oldrev=old)
    world.sender.send(*hook)


def set_labels_by(
    world: GitLabWorld, path: str, iid: int, username: str, add: list[str], merge: bool = False
) -> None:
    """A person labels an item (the hook carries `changes.labels`)."""
    with world.lock:
        project, item = _find(world, path, iid, merge)
        uid = world.user(username)["id"]
        before = [hook_label_of(project, n) for n in item["labels"]]
        item["labels"] = sorted({*item["labels"], *add})
        after = [hook_label_of(project, n) for n in item["labels"]]
        changes: dict[str, Any] = {"labels": {"previous": before, "current": after}}
        hook = item_hook(world, project, item, uid, "update", merge=merge, changes=changes)
    world.sender.send(*hook)


def hook_label_of(project: Project, name: str) -> Json:
    from bot.sim.gitlab.hooks import hook_label

    return hook_label(project, name)
