"""Webhook payloads in the shapes of /work/shared/github/webhook-examples.

Each builder returns (event name, payload). Callers hold `forge.lock` so the payload is a
consistent snapshot; sending happens after the lock is released.
"""

from __future__ import annotations

from typing import Any

from bot.sim.models import Comment, Commit, Installation, Issue, Label, Org, Repo, Review
from bot.sim.shapes import (
    Json,
    installation,
    installation_lite,
    iso,
    organization,
    repository,
    repository_lite,
    team,
    user,
)
from bot.sim.shapes_items import comment, issue, label, pull, review, simple_pull
from bot.sim.state import ForgeState

Event = tuple[str, Json]


def _envelope(
    forge: ForgeState,
    sender: str,
    repo: Repo | None = None,
    org: Org | None = None,
    *,
    repo_flavor: str = "webhook",
) -> Json:
    """repository, organization, sender, installation: the keys every event carries."""
    out: Json = {}
    if repo is not None:
        out["repository"] = repository(forge, repo, flavor=repo_flavor)
        org = org or forge.org_of(repo)
    if org is not None:
        out["organization"] = organization(forge, org)
    out["sender"] = user(forge, sender)
    inst = forge.installation_for_repo(repo) if repo else _installation_of(forge, org)
    if inst is not None:
        out["installation"] = installation_lite(inst)
    return out


def _installation_of(forge: ForgeState, org: Org | None) -> Installation | None:
    if org is None:
        return None
    found = [i for i in forge.installations.values() if i.account.lower() == org.login.lower()]
    return found[0] if found else None


def item_event(
    forge: ForgeState, repo: Repo, item: Issue, action: str, sender: str, **extra: Any
) -> Event:
    """`issues` or `pull_request` (whichever the item is) with `action`; `extra` adds e.g.
    label=, assignee=, changes=, before=/after=, requested_reviewer=."""
    if item.pull is not None:
        body: Json = {"action": action, "number": item.number}
        body |= {k: v for k, v in extra.items() if k in ("before", "after")}
        body["pull_request"] = pull(forge, repo, item)
        body |= {k: v for k, v in extra.items() if k not in ("before", "after")}
        return "pull_request", body | _envelope(forge, sender, repo)
    body = {"action": action, "issue": issue(forge, repo, item)} | extra
    return "issues", body | _envelope(forge, sender, repo)


def opened(forge: ForgeState, repo: Repo, item: Issue, sender: str) -> list[Event]:
    """What GitHub sends for a new item: `opened` (already carrying its labels and
    assignees), then one `labeled` per label and one `assigned` per assignee."""
    events = [item_event(forge, repo, item, "opened", sender)]
    for lab in (repo.labels[n.lower()] for n in item.labels):
        events.append(labeled(forge, repo, item, lab, sender))
    events += [assigned(forge, repo, item, login, sender) for login in item.assignees]
    return events


def labeled(
    forge: ForgeState, repo: Repo, item: Issue, lab: Label, sender: str, action: str = "labeled"
) -> Event:
    return item_event(forge, repo, item, action, sender, label=label(forge, repo, lab))


def assigned(
    forge: ForgeState, repo: Repo, item: Issue, login: str, sender: str, action: str = "assigned"
) -> Event:
    return item_event(forge, repo, item, action, sender, assignee=user(forge, login))


def comment_event(
    forge: ForgeState,
    repo: Repo,
    c: Comment,
    action: str,
    sender: str,
    changes: Json | None = None,
) -> Event:
    body: Json = {"action": action}
    if changes is not None:
        body["changes"] = changes
    item = repo.issues[c.issue_number]
    body |= {"issue": issue(forge, repo, item), "comment": comment(forge, repo, c)}
    return "issue_comment", body | _envelope(forge, sender, repo)


def review_event(forge: ForgeState, repo: Repo, item: Issue, r: Review, sender: str) -> Event:
    body: Json = {
        "action": "submitted",
        "review": review(forge, repo, item, r),
        "pull_request": simple_pull(forge, repo, item),
    }
    return "pull_request_review", body | _envelope(forge, sender, repo)


def label_event(forge: ForgeState, repo: Repo, lab: Label, sender: str) -> Event:
    body: Json = {"action": "created", "label": label(forge, repo, lab)}
    return "label", body | _envelope(forge, sender, repo)


def _push_commit(forge: ForgeState, repo: Repo, c: Commit) -> Json:
    author = forge.get_user(c.author)
    person = {
        "name": author.name or author.login,
        "email": author.email or f"{author.id}+{author.login}@users.noreply.github.com",
        "username": author.login,
    }
    return {
        "id": c.sha,
        "tree_id": c.sha[::-1],
        "distinct": True,
        "message": c.message,
        "timestamp": iso(c.timestamp),
        "url": f"{forge.html_url}/{repo.full_name}/commit/{c.sha}",
        "author": person,
        "committer": person,
        "added": list(c.added),
        "removed": list(c.removed),
        "modified": list(c.modified),
    }


def push_event(
    forge: ForgeState, repo: Repo, branch: str, before: str, c: Commit, sender: str
) -> Event:
    pusher = forge.get_user(sender)
    created = before == "0" * 40
    body: Json = {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": c.sha,
        "created": created,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{forge.html_url}/{repo.full_name}/compare/{before[:12]}...{c.sha[:12]}",
        "commits": [_push_commit(forge, repo, c)],
        "head_commit": _push_commit(forge, repo, c),
        "pusher": {
            "name": pusher.login,
            "email": pusher.email or f"{pusher.id}+{pusher.login}@users.noreply.github.com",
        },
    }
    return "push", body | _envelope(forge, sender, repo, repo_flavor="push")


def installation_event(
    forge: ForgeState, inst: Installation, action: str, sender: str, repos: list[Repo]
) -> Event:
    body: Json = {
        "action": action,
        "installation": installation(forge, inst),
        "repositories": [repository_lite(r) for r in repos],
        "sender": user(forge, sender),
    }
    return "installation", body


def installation_repositories_event(
    forge: ForgeState, inst: Installation, added: list[Repo], removed: list[Repo], sender: str
) -> Event:
    body: Json = {
        "action": "added" if added else "removed",
        "installation": installation(forge, inst),
        "repository_selection": inst.repository_selection,
        "repositories_added": [repository_lite(r) for r in added],
        "repositories_removed": [repository_lite(r) for r in removed],
        "requester": None,
        "sender": user(forge, sender),
    }
    return "installation_repositories", body


def organization_event(
    forge: ForgeState, org: Org, login: str, sender: str, action: str = "member_added"
) -> Event:
    membership = org.members.get(login.lower())
    body: Json = {
        "action": action,
        "membership": {
            "url": f"{forge.api_url}/orgs/{org.login}/memberships/{login}",
            "state": membership.state if membership else "active",
            "role": membership.role if membership else "member",
            "organization_url": f"{forge.api_url}/orgs/{org.login}",
            "user": user(forge, login),
        },
    }
    return "organization", body | _envelope(forge, sender, org=org)


def membership_event(
    forge: ForgeState, org: Org, slug: str, login: str, sender: str, action: str = "added"
) -> Event:
    body: Json = {
        "action": action,
        "scope": "team",
        "member": user(forge, login),
        "team": team(forge, org, org.teams[slug]),
    }
    return "membership", body | _envelope(forge, sender, org=org)


def member_event(
    forge: ForgeState, repo: Repo, login: str, role: str, sender: str, action: str = "added"
) -> Event:
    body: Json = {"action": action, "member": user(forge, login)}
    if action == "added" and role in ("write", "admin"):
        body["changes"] = {"permission": {"to": role}}
    return "member", body | _envelope(forge, sender, repo)
