"""GitHub's JSON shapes for accounts, repositories, the App and installations.

Shapes follow the webhook examples and the REST description in /work/shared/github; the tests
validate every served body against the OpenAPI schemas and every webhook against the
octokit webhook schemas, which reject unknown keys, so add fields with care.
Callers hold `forge.lock`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from bot.sim.models import Installation, Org, Repo, Team, User
from bot.sim.state import ForgeState

Json = dict[str, Any]


def iso(when: datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def user(forge: ForgeState, login: str) -> Json:
    """simple-user: the `user`, `sender`, `owner` … objects."""
    u: User = forge.ensure_user(login)
    api = f"{forge.api_url}/users/{quote(u.login)}"
    html = (
        f"{forge.html_url}/apps/{u.login[:-5]}"
        if u.type == "Bot"
        else f"{forge.html_url}/{u.login}"
    )
    return {
        "login": u.login,
        "id": u.id,
        "node_id": u.node_id,
        "avatar_url": f"https://avatars.githubusercontent.com/u/{u.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": html,
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": u.type,
        "site_admin": False,
    }


def maybe_user(forge: ForgeState, login: str | None) -> Json | None:
    return user(forge, login) if login else None


def public_user(forge: ForgeState, login: str) -> Json:
    """GET /users/{username}."""
    u = forge.get_user(login)
    public_repos = sum(
        1 for r in forge.repos.values() if r.owner.lower() == u.login.lower() and not r.private
    )
    return user(forge, login) | {
        "name": u.name,
        "company": u.company,
        "blog": "",
        "location": None,
        "email": u.email,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": iso(u.created_at),
        "updated_at": iso(u.created_at),
    }


def organization(forge: ForgeState, org: Org) -> Json:
    api = f"{forge.api_url}/orgs/{org.login}"
    return {
        "login": org.login,
        "id": org.id,
        "node_id": org.node_id,
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{org.id}?v=4",
        "description": org.description,
    }


def team(forge: ForgeState, org: Org, t: Team, *, rest: bool = False) -> Json:
    api = f"{forge.api_url}/teams/{t.id}"
    shape: Json = {
        "name": t.name,
        "id": t.id,
        "node_id": t.node_id,
        "slug": t.slug,
        "description": t.description,
        "privacy": t.privacy,
        "notification_setting": "notifications_enabled",
        "url": api,
        "html_url": f"{forge.html_url}/orgs/{org.login}/teams/{t.slug}",
        "members_url": f"{api}/members{{/member}}",
        "repositories_url": f"{api}/repos",
        "permission": "pull",
        "parent": None,
    }
    if rest:
        shape |= {"type": "organization", "organization_id": org.id}
    return shape


_REPO_LINKS = {
    "forks_url": "/forks",
    "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams",
    "hooks_url": "/hooks",
    "issue_events_url": "/issues/events{/number}",
    "events_url": "/events",
    "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}",
    "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages",
    "stargazers_url": "/stargazers",
    "contributors_url": "/contributors",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads",
    "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}


def repository(forge: ForgeState, repo: Repo, *, flavor: str = "webhook") -> Json:
    """`webhook`: as in event payloads; `rest`: full-repository; `push`: push events' variant
    (epoch timestamps, `stargazers`, `master_branch`, `organization` login)."""
    api = f"{forge.api_url}/repos/{repo.full_name}"
    html = f"{forge.html_url}/{repo.full_name}"
    open_count = sum(1 for i in repo.issues.values() if i.state == "open")
    shape: Json = {
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": user(forge, repo.owner),
        "html_url": html,
        "description": repo.description,
        "fork": False,
        "url": api,
    }
    shape |= {key: api + suffix for key, suffix in _REPO_LINKS.items()}
    host = forge.html_url.split("://", 1)[-1]
    shape |= {
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.updated_at),
        "pushed_at": iso(repo.pushed_at),
        "git_url": f"git://{host}/{repo.full_name}.git",
        "ssh_url": f"git@{host}:{repo.full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "homepage": None,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": open_count,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if repo.private else "public",
        "forks": 0,
        "open_issues": open_count,
        "watchers": 0,
        "default_branch": repo.default_branch,
        "custom_properties": {},
    }
    if flavor == "push":
        shape["created_at"] = int(repo.created_at.timestamp())
        shape["pushed_at"] = int(repo.pushed_at.timestamp())
        shape |= {"stargazers": 0, "master_branch": repo.default_branch}
        if forge.org_of(repo):
            shape["organization"] = repo.owner
    elif flavor == "rest":
        shape |= {"network_count": 0, "subscribers_count": 0}
        if forge.org_of(repo):
            shape["organization"] = user(forge, repo.owner)
    return shape


def repository_lite(repo: Repo) -> Json:
    """The short form in installation and installation_repositories events."""
    return {
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
    }


def app(forge: ForgeState) -> Json:
    """integration: GET /app, and performed_via_github_app."""
    a = forge.app
    assert a is not None
    return {
        "id": a.id,
        "slug": a.slug,
        "node_id": a.node_id,
        "owner": user(forge, a.owner),
        "name": a.name,
        "description": "Makes sure no outside contribution is silently ignored.",
        "external_url": f"{forge.html_url}/apps/{a.slug}",
        "html_url": f"{forge.html_url}/apps/{a.slug}",
        "created_at": iso(a.created_at),
        "updated_at": iso(a.created_at),
        "permissions": dict(a.permissions),
        "events": list(a.events),
    }


def installation(forge: ForgeState, inst: Installation) -> Json:
    a = forge.app
    assert a is not None
    account = forge.get_user(inst.account)
    return {
        "id": inst.id,
        "account": user(forge, account.login),
        "repository_selection": inst.repository_selection,
        "access_tokens_url": f"{forge.api_url}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{forge.api_url}/installation/repositories",
        "html_url": f"{forge.html_url}/settings/installations/{inst.id}",
        "app_id": a.id,
        "app_slug": a.slug,
        "target_id": account.id,
        "target_type": "Organization" if account.type == "Organization" else "User",
        "permissions": dict(a.permissions),
        "events": list(a.events),
        "created_at": iso(inst.created_at),
        "updated_at": iso(inst.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": iso(inst.suspended_at),
    }


def installation_lite(inst: Installation) -> Json:
    return {"id": inst.id, "node_id": inst.node_id}
