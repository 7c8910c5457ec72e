"""GitHub's JSON shapes for issues, pull requests, comments, reviews, labels, checks and contents.

Callers hold `forge.lock`. `rest=True` adds what REST responses carry but webhook objects may not
(the webhook schemas forbid unknown keys).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from bot.sim.models import CheckRun, Comment, Commit, FileChange, Issue, Label, Repo, Review
from bot.sim.shapes import Json, app, iso, maybe_user, repository, team, user
from bot.sim.state import ForgeState, blob_sha, fake_sha


def label(forge: ForgeState, repo: Repo, lab: Label) -> Json:
    return {
        "id": lab.id,
        "node_id": lab.node_id,
        "url": f"{forge.api_url}/repos/{repo.full_name}/labels/{lab.name.replace(' ', '%20')}",
        "name": lab.name,
        "color": lab.color,
        "default": lab.default,
        "description": lab.description,
    }


def _reactions(url: str) -> Json:
    counts = dict.fromkeys(
        ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"), 0
    )
    return {"url": url, "total_count": 0, **counts}


def _labels(forge: ForgeState, repo: Repo, item: Issue) -> list[Json]:
    return [
        label(forge, repo, repo.labels[n.lower()]) for n in item.labels if n.lower() in repo.labels
    ]


def _html(forge: ForgeState, repo: Repo, item: Issue) -> str:
    kind = "pull" if item.pull else "issues"
    return f"{forge.html_url}/{repo.full_name}/{kind}/{item.number}"


def issue(forge: ForgeState, repo: Repo, item: Issue, *, rest: bool = False) -> Json:
    """The `issue` object (also for pull requests, which then carry `pull_request`)."""
    api = f"{forge.api_url}/repos/{repo.full_name}/issues/{item.number}"
    comments = sum(1 for c in repo.comments.values() if c.issue_number == item.number)
    shape: Json = {
        "url": api,
        "repository_url": f"{forge.api_url}/repos/{repo.full_name}",
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": _html(forge, repo, item),
        "id": item.id,
        "node_id": item.node_id,
        "number": item.number,
        "title": item.title,
        "user": user(forge, item.user),
        "labels": _labels(forge, repo, item),
        "state": item.state,
        "locked": item.locked,
        "assignee": maybe_user(forge, item.assignees[0] if item.assignees else None),
        "assignees": [user(forge, a) for a in item.assignees],
        "milestone": None,
        "comments": comments,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "closed_at": iso(item.closed_at),
        "author_association": forge.author_association(repo, item.user),
        "active_lock_reason": None,
        "body": item.body,
        "reactions": _reactions(f"{api}/reactions"),
        "timeline_url": f"{api}/timeline",
        "performed_via_github_app": app(forge) if item.via_app else None,
        "state_reason": item.state_reason,
    }
    if item.pull is not None:
        pulls = f"{forge.api_url}/repos/{repo.full_name}/pulls/{item.number}"
        html = _html(forge, repo, item)
        shape["draft"] = item.pull.draft
        shape["pull_request"] = {
            "url": pulls,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": iso(item.pull.merged_at),
        }
    if rest:
        shape["closed_by"] = maybe_user(forge, item.closed_by)
    return shape


def search_item(forge: ForgeState, repo: Repo, item: Issue) -> Json:
    return issue(forge, repo, item, rest=True) | {"score": 1.0}


def _branch(forge: ForgeState, repo: Repo, ref: str, sha: str, login: str) -> Json:
    return {
        "label": f"{login}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(forge, login),
        "repo": repository(forge, repo),
    }


# What pull_request_review events carry: the pull request without merge and size details.
SIMPLE_PULL_DROPS = (
    "merged", "mergeable", "rebaseable", "mergeable_state", "merged_by", "comments",
    "review_comments", "maintainer_can_modify", "commits", "additions", "deletions",
    "changed_files",
)  # fmt: skip


def simple_pull(forge: ForgeState, repo: Repo, item: Issue) -> Json:
    full = pull(forge, repo, item)
    return {k: v for k, v in full.items() if k not in SIMPLE_PULL_DROPS}


def pull(forge: ForgeState, repo: Repo, item: Issue, *, rest: bool = False) -> Json:
    """The `pull_request` object, for GET /pulls/{n} and pull_request events alike."""
    p = item.pull
    assert p is not None
    base = f"{forge.api_url}/repos/{repo.full_name}"
    api, issue_api = f"{base}/pulls/{item.number}", f"{base}/issues/{item.number}"
    html = _html(forge, repo, item)
    statuses = f"{base}/statuses/{p.head_sha}"
    is_open = item.state == "open"
    org = forge.org_of(repo)
    teams = [org.teams[s] for s in p.requested_teams if org and s in org.teams]
    return {
        "url": api,
        "id": item.id,
        "node_id": item.node_id,
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "number": item.number,
        "state": item.state,
        "locked": item.locked,
        "title": item.title,
        "user": user(forge, item.user),
        "body": item.body,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "closed_at": iso(item.closed_at),
        "merged_at": iso(p.merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": maybe_user(forge, item.assignees[0] if item.assignees else None),
        "assignees": [user(forge, a) for a in item.assignees],
        "requested_reviewers": [user(forge, r) for r in p.requested_reviewers],
        "requested_teams": [team(forge, org, t, rest=rest) for t in teams if org],
        "labels": _labels(forge, repo, item),
        "milestone": None,
        "draft": p.draft,
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{base}/pulls/comments{{/number}}",
        "comments_url": f"{issue_api}/comments",
        "statuses_url": statuses,
        "head": _branch(forge, repo, p.head_ref, p.head_sha, item.user),
        "base": _branch(forge, repo, p.base_ref, p.base_sha, repo.owner),
        "_links": {
            "self": {"href": api},
            "html": {"href": html},
            "issue": {"href": issue_api},
            "comments": {"href": f"{issue_api}/comments"},
            "review_comments": {"href": f"{api}/comments"},
            "review_comment": {"href": f"{base}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/commits"},
            "statuses": {"href": statuses},
        },
        "author_association": forge.author_association(repo, item.user),
        "auto_merge": None,
        "active_lock_reason": None,
        "merged": p.merged,
        "mergeable": True if is_open else None,
        "rebaseable": True if is_open else None,
        "mergeable_state": ("draft" if p.draft else "clean") if is_open else "unknown",
        "merged_by": maybe_user(forge, p.merged_by),
        "comments": sum(1 for c in repo.comments.values() if c.issue_number == item.number),
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": len(p.commits),
        "additions": sum(f.additions for f in p.files),
        "deletions": sum(f.deletions for f in p.files),
        "changed_files": len(p.files),
    }


def comment(forge: ForgeState, repo: Repo, c: Comment) -> Json:
    api = f"{forge.api_url}/repos/{repo.full_name}"
    item = repo.issues[c.issue_number]
    url = f"{api}/issues/comments/{c.id}"
    return {
        "url": url,
        "html_url": f"{_html(forge, repo, item)}#issuecomment-{c.id}",
        "issue_url": f"{api}/issues/{c.issue_number}",
        "id": c.id,
        "node_id": c.node_id,
        "user": user(forge, c.user),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "author_association": forge.author_association(repo, c.user),
        "body": c.body,
        "reactions": _reactions(f"{url}/reactions"),
        "performed_via_github_app": app(forge) if c.via_app else None,
    }


def review(forge: ForgeState, repo: Repo, item: Issue, r: Review) -> Json:
    """As webhooks spell it: the state in lower case (`approved`), an empty body as null."""
    pull_url = f"{forge.api_url}/repos/{repo.full_name}/pulls/{item.number}"
    html = f"{_html(forge, repo, item)}#pullrequestreview-{r.id}"
    return {
        "id": r.id,
        "node_id": r.node_id,
        "user": user(forge, r.user),
        "body": r.body or None,
        "commit_id": r.commit_id,
        "submitted_at": iso(r.submitted_at),
        "state": r.state.lower(),
        "html_url": html,
        "pull_request_url": pull_url,
        "author_association": forge.author_association(repo, r.user),
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
    }


def diff_entry(forge: ForgeState, repo: Repo, head_sha: str, f: FileChange) -> Json:
    sha = blob_sha(f.content) if f.content is not None else fake_sha("blob", f.filename, head_sha)
    contents = f"{forge.api_url}/repos/{repo.full_name}/contents/{f.filename}"
    shape: Json = {
        "sha": sha,
        "filename": f.filename,
        "status": f.status,
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": f"{forge.html_url}/{repo.full_name}/blob/{head_sha}/{f.filename}",
        "raw_url": f"{forge.html_url}/{repo.full_name}/raw/{head_sha}/{f.filename}",
        "contents_url": f"{contents}?ref={head_sha}",
    }
    if f.patch is not None:
        shape["patch"] = f.patch
    return shape


def commit(forge: ForgeState, repo: Repo, c: Commit) -> Json:
    """A commit as GET /pulls/{n}/commits lists it."""
    api = f"{forge.api_url}/repos/{repo.full_name}"
    html = f"{forge.html_url}/{repo.full_name}"
    author = forge.get_user(c.author)
    person = {
        "name": author.name or author.login,
        "email": author.email or f"{author.id}+{author.login}@users.noreply.github.com",
        "date": iso(c.timestamp),
    }
    tree = fake_sha("tree", c.sha)
    return {
        "url": f"{api}/commits/{c.sha}",
        "sha": c.sha,
        "node_id": base64.b64encode(f"04:Commit{repo.id}:{c.sha}".encode()).decode(),
        "html_url": f"{html}/commit/{c.sha}",
        "comments_url": f"{api}/commits/{c.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{c.sha}",
            "author": person,
            "committer": person,
            "message": c.message,
            "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "author": user(forge, author.login),
        "committer": user(forge, author.login),
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in c.parents
        ],
    }


def check_run(forge: ForgeState, repo: Repo, run: CheckRun) -> Json:
    api = f"{forge.api_url}/repos/{repo.full_name}"
    output: dict[str, Any] = {
        "title": run.output.get("title"),
        "summary": run.output.get("summary"),
        "text": run.output.get("text"),
        "annotations_count": 0,
        "annotations_url": f"{api}/check-runs/{run.id}/annotations",
    }
    html = f"{forge.html_url}/{repo.full_name}/runs/{run.id}"
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": run.node_id,
        "external_id": run.external_id,
        "url": f"{api}/check-runs/{run.id}",
        "html_url": html,
        "details_url": run.details_url or html,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "output": output,
        "name": run.name,
        "check_suite": {"id": int(run.head_sha[:8], 16)},
        "app": app(forge),
        "pull_requests": [],
    }


def _b64_lines(text: str) -> str:
    """GitHub wraps base64 content at 60 characters, with a trailing newline."""
    raw = base64.b64encode(text.encode()).decode()
    return "".join(raw[i : i + 60] + "\n" for i in range(0, len(raw), 60))


def content_entry(forge: ForgeState, repo: Repo, path: str, ref: str, text: str | None) -> Json:
    """A file (with content) or, when `text` is None, a directory entry."""
    api = f"{forge.api_url}/repos/{repo.full_name}"
    kind = "dir" if text is None else "file"
    sha = blob_sha(text) if text is not None else fake_sha("tree", path, ref)
    git = f"{api}/git/{'trees' if text is None else 'blobs'}/{sha}"
    html = f"{forge.html_url}/{repo.full_name}/{'tree' if text is None else 'blob'}/{ref}/{path}"
    shape: Json = {
        "type": kind,
        "size": 0 if text is None else len(text.encode()),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": f"{api}/contents/{path}?ref={ref}",
        "git_url": git,
        "html_url": html,
        "download_url": None
        if text is None
        else f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}",
        "_links": {"self": f"{api}/contents/{path}?ref={ref}", "git": git, "html": html},
    }
    if text is not None:
        shape |= {"encoding": "base64", "content": _b64_lines(text)}
    return shape


_COMMUNITY_FILES = {
    "readme": r"(\.github/|docs/)?readme(\.\w+)?",
    "contributing": r"(\.github/|docs/)?contributing(\.\w+)?",
    "code_of_conduct_file": r"(\.github/|docs/)?code_of_conduct(\.\w+)?",
    "license": r"(licen[cs]e|copying)(\.\w+)?",
    "issue_template": r"(\.github/)?issue_template(\.md|/.+)",
    "pull_request_template": r"(\.github/|docs/)?pull_request_template(\.md|/.+)",
}


def community_profile(forge: ForgeState, repo: Repo) -> Json:
    """Computed from the default branch's files, then `repo.community` overrides."""
    files = repo.files.get(repo.default_branch, {})
    html = f"{forge.html_url}/{repo.full_name}/blob/{repo.default_branch}"
    api = f"{forge.api_url}/repos/{repo.full_name}/contents"
    found: dict[str, Any] = dict.fromkeys(_COMMUNITY_FILES)
    for key, pattern in _COMMUNITY_FILES.items():
        path = next((p for p in sorted(files) if re.fullmatch(pattern, p, re.IGNORECASE)), None)
        if path:
            found[key] = {"url": f"{api}/{path}", "html_url": f"{html}/{path}"}
    if found["license"]:
        found["license"] = {
            "key": "other", "name": "Other", "spdx_id": "NOASSERTION", "url": None,
            "node_id": "MDc6TGljZW5zZTA=", "html_url": found["license"]["html_url"],
        }  # fmt: skip
    present = sum(1 for v in found.values() if v) + (1 if repo.description else 0)
    profile: Json = {
        "health_percentage": round(100 * present / 7),
        "description": repo.description,
        "documentation": None,
        "files": {"code_of_conduct": None, **found},
        "updated_at": iso(repo.pushed_at),
        "content_reports_enabled": False,
    }
    return profile | dict(repo.community or {})
