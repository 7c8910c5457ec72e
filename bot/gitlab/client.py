"""`GitLabAPI`: the Forge protocol (bot/forge/protocol.py) over GitLab's REST API v4.

Repository names are host-qualified (`gitlab.example.org/group/project`); the host is this
instance's and is stripped before each call. Well-known files asked for at their canonical
place are read at GitLab's (see `WELL_KNOWN`; a group's template overrides at their earlier
place while GitLab's is absent, see `EARLIER`). Notes are updated through the issue or merge
request they belong to, which the client learns when it lists or posts them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bot.forge import Forge, RepoName
from bot.forge.errors import ForgeRequestFailed
from bot.forge.names import (
    GITLAB_CONFIG_PATH,
    GITLAB_OVERRIDES_DIR,
    OVERRIDES_DIR,
)
from bot.gitlab import shapes
from bot.gitlab.codeowners import CODEOWNERS_PATHS, GitLabCodeOwners, parse_gitlab_codeowners
from bot.gitlab.numbers import split
from bot.gitlab.transport import Transport, is_ambiguous, status_of

# Canonical (GitHub) place -> GitLab's place of the files Veilleur reads.
WELL_KNOWN = {
    ".github/veilleur.yml": GITLAB_CONFIG_PATH,
    ".github/ISSUE_TEMPLATE": ".gitlab/issue_templates",
    OVERRIDES_DIR: GITLAB_OVERRIDES_DIR,
}
# Canonical directories read at their canonical place itself when GitLab's does not exist:
# groups that put their template overrides there before Veilleur read `.gitlab/` keep them.
EARLIER = frozenset({OVERRIDES_DIR})
COMMUNITY_FILES = {"contributing": "CONTRIBUTING.md", "code_of_conduct_file": "CODE_OF_CONDUCT.md"}


def gitlab_path(path: str) -> str:
    """A file's GitLab place: a canonical path, or one under a canonical directory, moved."""
    for canonical, own in WELL_KNOWN.items():
        if path == canonical or path.startswith(canonical + "/"):
            return own + path[len(canonical) :]
    return path


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def _id(path: str) -> str:
    return quote(path, safe="")


class GitLabAPI:
    """Every call Veilleur makes to one GitLab instance, as its bot user."""

    def __init__(self, transport: Transport, host: str) -> None:
        self.http = transport
        self.host = host.lower()
        self._users: dict[str, dict[str, Any] | None] = {}
        self._branches: dict[str, str] = {}
        self._notes: dict[int, tuple[str, int]] = {}  # note id -> (project path, item number)
        self._earlier: set[tuple[str, str]] = set()  # (repo, `EARLIER` folder) read there
        self.own_login: str | None = None

    async def whoami(self) -> str | None:
        """The token's user (`GET /user`): Veilleur's own notes and issues are hers."""
        if self.own_login is None:
            data = await self.http.json("GET", "/user")
            if isinstance(data, dict) and data.get("username"):
                self.own_login = str(data["username"])
        return self.own_login

    # -- names -------------------------------------------------------------------------------
    def _project(self, repo: str) -> str:
        """The project path of a qualified name (the group's own files: its `gitlab-profile`
        project, named so by `bot.forge.names.org_config_repo`)."""
        name = RepoName.parse(repo)
        if name.host != self.host:
            raise ValueError(f"{repo} is not on {self.host}")
        return name.path

    def _p(self, repo: str) -> str:
        return f"/projects/{_id(self._project(repo))}"

    def project_path(self, repo: str) -> str:
        """The project's full path on the instance (GraphQL's `fullPath`)."""
        return self._project(repo)

    def project_url(self, repo: str) -> str:
        """The API path of a project (`/projects/<url-encoded path>`)."""
        return self._p(repo)

    def _item(self, repo: str, number: int) -> str:
        kind, iid = split(number)
        return f"{self._p(repo)}/{kind}/{iid}"

    # -- repositories and files ----------------------------------------------------------------
    async def get_repo(self, repo: str) -> dict[str, Any]:
        data = await self.http.json("GET", self._p(repo))
        if data is None:
            raise ForgeRequestFailed("GET", self._p(repo), 404)
        out = shapes.project(data, self.host)
        self._branches[repo] = out["default_branch"]
        return out

    async def installation_repositories(self) -> list[dict[str, Any]]:
        """Projects the token is a member of, archived ones left out."""
        rows = await self.http.pages("/projects", {"membership": "true", "archived": "false"})
        return [shapes.project(p, self.host) for p in rows]

    async def group_projects(self, group: str) -> list[dict[str, Any]] | None:
        """The group's projects, its subgroups' included, archived ones left out; None when
        the token sees no such group."""
        path = f"/groups/{_id(group)}/projects"
        query: dict[str, Any] = {"include_subgroups": "true", "archived": "false", "per_page": 100}
        rows: list[Any] = []
        while True:
            resp = await self.http.request("GET", path, params=query)
            if resp.status_code == 404:
                return None
            rows.extend(resp.json() or [])
            nxt = resp.headers.get("x-next-page", "")
            if not nxt.isdigit():
                return [shapes.project(p, self.host) for p in rows]
            query["page"] = int(nxt)

    async def _ref(self, repo: str, ref: str | None) -> str:
        if ref:
            return ref
        if repo not in self._branches:
            try:
                await self.get_repo(repo)
            except ForgeRequestFailed:
                return "HEAD"
        return self._branches.get(repo, "HEAD")

    async def get_file(
        self, repo: str, path: str, ref: str | None = None, *, keep: bool = False
    ) -> str | None:
        """`keep` changes nothing here: every read asks GitLab for the file."""
        path = self.place_of(repo, path)
        try:
            branch = await self._ref(repo, ref)
        except ValueError:
            return None
        data = await self.http.json(
            "GET", f"{self._p(repo)}/repository/files/{_id(path)}", params={"ref": branch}
        )
        if not isinstance(data, dict) or "content" not in data:
            return None
        raw = base64.b64decode(data.get("content") or "")
        return raw.decode("utf-8", "replace")

    def place_of(self, repo: str, path: str) -> str:
        """GitLab's place of a canonical path (`gitlab_path`), or the canonical place itself
        under an `EARLIER` folder that was last listed there."""
        if any(_under(path, f) for r, f in self._earlier if r == repo.lower()):
            return path
        return gitlab_path(path)

    async def _tree(self, repo: str, path: str) -> list[dict[str, Any]]:
        return await self.http.pages(
            f"{self._p(repo)}/repository/tree", {"path": path, "ref": await self._ref(repo, None)}
        )

    async def list_dir(self, repo: str, path: str, *, keep: bool = False) -> list[dict[str, Any]]:
        """An `EARLIER` folder is listed at GitLab's place, else at its earlier one, and what is
        under it is then read where it was found (`place_of`)."""
        if path in EARLIER:
            self._earlier.discard((repo.lower(), path))
            rows = await self._tree(repo, gitlab_path(path))
            if not rows:
                rows = await self._tree(repo, path)
                if rows:
                    self._earlier.add((repo.lower(), path))
        else:
            rows = await self._tree(repo, self.place_of(repo, path))
        kinds = {"blob": "file", "tree": "dir"}
        # Paths are told back at the canonical place they were asked for.
        return [
            {"name": r["name"], "path": f"{path}/{r['name']}", "type": kinds.get(r["type"], "file")}
            for r in rows
        ]

    async def community_profile(self, repo: str) -> dict[str, Any] | None:
        """GitLab has no community profile: the root files it would list, looked up."""
        project = await self.http.json("GET", self._p(repo))
        if project is None:
            return None
        root = {r["name"].lower() for r in await self.list_dir(repo, "")}
        web = project.get("web_url") or ""
        branch = project.get("default_branch") or "main"
        files: dict[str, Any] = {}
        for key, name in COMMUNITY_FILES.items():
            found = name.lower() in root
            files[key] = {"html_url": f"{web}/-/blob/{branch}/{name}"} if found else None
        return {"files": files, "documentation": None}

    # -- people ------------------------------------------------------------------------------
    async def _user(self, login: str) -> dict[str, Any] | None:
        if login.lower() not in self._users:
            rows = await self.http.json("GET", "/users", params={"username": login})
            raw = rows[0] if isinstance(rows, list) and rows else None
            self._users[login.lower()] = raw
        return self._users[login.lower()]

    async def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        """Webhooks name authors by id only (bot/gitlab/hooks.py)."""
        for raw in self._users.values():
            if raw and raw.get("id") == user_id:
                return shapes.user(raw)
        raw = await self.http.json("GET", f"/users/{int(user_id)}")
        if isinstance(raw, dict) and raw.get("username"):
            self._users[str(raw["username"]).lower()] = raw
        return shapes.user(raw)

    async def get_user(self, login: str) -> dict[str, Any] | None:
        return shapes.user(await self._user(login))

    async def _access(self, collection: str, login: str) -> int | None:
        raw = await self._user(login)
        if raw is None:
            return None
        member = await self.http.json("GET", f"{collection}/members/all/{int(raw['id'])}")
        if not isinstance(member, dict) or member.get("state", "active") != "active":
            return None
        level = member.get("access_level")
        return level if isinstance(level, int) else None

    def _group(self, org: str) -> str:
        name = RepoName.parse(org + "/x")
        return f"/groups/{_id(name.namespace)}"

    async def is_org_member(self, org: str, login: str) -> bool:
        """Developer or above in the group, directly or through a parent group."""
        level = await self._access(self._group(org), login)
        return level is not None and level >= shapes.DEVELOPER

    async def team_membership(self, org: str, team_slug: str, login: str) -> str | None:
        """A team is a subgroup: `active` when the person belongs to it."""
        level = await self._access(self._group(f"{org}/{team_slug}"), login)
        return "active" if level is not None else None

    async def collaborator_permission(self, repo: str, login: str) -> str | None:
        """From the access level on the project, inherited from its groups included."""
        return shapes.permission_of(await self._access(self._p(repo), login))

    # -- issues and merge requests -------------------------------------------------------------
    async def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        kind, _ = split(number)
        data = await self.http.json("GET", self._item(repo, number))
        if data is None:
            raise ForgeRequestFailed("GET", self._item(repo, number), 404)
        return shapes.issue(data, repo, merge_request=kind == "merge_requests")

    async def list_issues(self, repo: str, **params: Any) -> list[dict[str, Any]]:
        """One page of issues, then of merge requests (GitHub lists both together)."""
        await self.whoami()
        query: dict[str, Any] = {
            "per_page": min(int(params.get("per_page", 100)), 100),
            "page": int(params.get("page", 1)),
            "state": {"open": "opened", "closed": "closed"}.get(params.get("state", "open"), "all"),
        }
        if params.get("creator"):
            query["author_username"] = params["creator"]
        if params.get("labels"):
            query["labels"] = params["labels"]
        issues = await self.http.json("GET", f"{self._p(repo)}/issues", params=query) or []
        merges = await self.http.json("GET", f"{self._p(repo)}/merge_requests", params=query) or []
        return [shapes.issue(i, repo) for i in issues] + [
            shapes.issue(m, repo, merge_request=True) for m in merges
        ]

    async def create_issue(
        self, repo: str, title: str, body: str, labels: list[str] | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"title": title, "description": body}
        if labels:
            payload["labels"] = ",".join(labels)
        data = await self.http.json("POST", f"{self._p(repo)}/issues", json=payload)
        return shapes.issue(data, repo)

    async def update_issue(self, repo: str, number: int, **fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if "title" in fields:
            payload["title"] = fields["title"]
        if "body" in fields:
            payload["description"] = fields["body"]
        if "state" in fields:
            payload["state_event"] = "close" if fields["state"] == "closed" else "reopen"
        kind, _ = split(number)
        data = await self.http.json("PUT", self._item(repo, number), json=payload)
        return shapes.issue(data or {"iid": split(number)[1]}, repo, merge_request=kind != "issues")

    async def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The item's notes, oldest first, system notes ("added label …") left out."""
        await self.whoami()  # the caller then tells its own notes by `own_login`
        rows = await self.http.pages(
            f"{self._item(repo, number)}/notes", {"sort": "asc", "order_by": "created_at"}
        )
        out = []
        for row in rows:
            if row.get("system"):
                continue
            self._notes[int(row["id"])] = (repo, number)
            out.append(shapes.note(row))
        return out

    async def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        data = await self.http.json(
            "POST", f"{self._item(repo, number)}/notes", json={"body": body}
        )
        self._notes[int(data["id"])] = (repo, number)
        return shapes.note(data)

    async def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        where = self._notes.get(int(comment_id))
        if where is None:
            raise LookupError(f"note {comment_id} was not listed first")
        url = f"{self._item(where[0], where[1])}/notes/{int(comment_id)}"
        return shapes.note(await self.http.json("PUT", url, json={"body": body}))

    async def add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        await self.http.json("PUT", self._item(repo, number), json={"add_labels": ",".join(labels)})

    async def remove_label(self, repo: str, number: int, label: str) -> None:
        await self.http.json("PUT", self._item(repo, number), json={"remove_labels": label})

    async def change_labels(
        self, repo: str, number: int, add: list[str], remove: list[str], ids: Mapping[str, str]
    ) -> bool:
        """GitLab adds and removes labels in the same update: always one request."""
        change = {"add_labels": ",".join(add), "remove_labels": ",".join(remove)}
        await self.http.json(
            "PUT", self._item(repo, number), json={k: v for k, v in change.items() if v}
        )
        return True

    async def get_label(self, repo: str, name: str) -> dict[str, Any] | None:
        data = await self.http.json("GET", f"{self._p(repo)}/labels/{_id(name)}")
        return shapes.label(data) if isinstance(data, dict) else None

    async def create_label(
        self, repo: str, name: str, color: str, description: str
    ) -> dict[str, Any] | None:
        payload = {"name": name, "color": f"#{color.lstrip('#')}", "description": description}
        try:
            data = await self.http.json("POST", f"{self._p(repo)}/labels", json=payload)
        except ForgeRequestFailed as exc:
            if exc.status != 409:  # already exists: fine
                raise
            return None
        return shapes.label(data) if isinstance(data, dict) else None

    async def _assignee_ids(self, repo: str, number: int) -> list[int]:
        data = await self.http.json("GET", self._item(repo, number)) or {}
        return [int(a["id"]) for a in data.get("assignees") or []]

    async def add_assignees(self, repo: str, number: int, logins: list[str]) -> None:
        ids = await self._assignee_ids(repo, number)
        for login in logins:
            raw = await self._user(login)
            if raw is not None and int(raw["id"]) not in ids:
                ids.append(int(raw["id"]))
        await self.http.json("PUT", self._item(repo, number), json={"assignee_ids": ids})

    async def remove_assignees(self, repo: str, number: int, logins: list[str]) -> None:
        gone = {int(raw["id"]) for raw in [await self._user(x) for x in logins] if raw}
        ids = [i for i in await self._assignee_ids(repo, number) if i not in gone]
        await self.http.json("PUT", self._item(repo, number), json={"assignee_ids": ids})

    async def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        data = await self.http.json("GET", self._item(repo, number))
        if data is None:
            raise ForgeRequestFailed("GET", self._item(repo, number), 404)
        return shapes.merge_request(data, repo)

    async def list_pull_files(self, repo: str, number: int) -> list[dict[str, Any]]:
        rows = await self.http.pages(f"{self._item(repo, number)}/diffs")
        return [{"filename": r.get("new_path") or r.get("old_path")} for r in rows]

    async def list_pull_commits(self, repo: str, number: int) -> list[dict[str, Any]]:
        rows = await self.http.pages(f"{self._item(repo, number)}/commits")
        return [
            {
                "sha": r.get("id"),
                "author": None,  # GitLab names commit authors by e-mail, not by account
                "commit": {
                    "message": r.get("message") or "",
                    "author": {"name": r.get("author_name"), "email": r.get("author_email")},
                },
            }
            for r in rows
        ]

    async def requested_reviewers(self, repo: str, number: int) -> dict[str, Any]:
        pull = await self.get_pull(repo, number)
        return {"users": pull["requested_reviewers"], "teams": []}

    async def approvals(self, repo: str, number: int) -> list[str]:
        """Who approved the merge request (GitLab's approvals stand for GitHub's reviews)."""
        data = await self.http.json("GET", f"{self._item(repo, number)}/approvals") or {}
        return [
            str((a.get("user") or {}).get("username"))
            for a in data.get("approved_by") or []
            if (a.get("user") or {}).get("username")
        ]

    async def create_check_run(self, repo: str, **fields: Any) -> dict[str, Any]:
        """A commit status: GitLab's nearest to a check run."""
        conclusion = str(fields.get("conclusion") or "success")
        state = {"success": "success", "failure": "failed"}.get(conclusion, "success")
        output = fields.get("output") or {}
        payload = {
            "state": state,
            "name": fields.get("name") or "veilleur",
            "description": str(output.get("title") or "")[:255],
        }
        sha = _id(str(fields.get("head_sha") or ""))
        return await self.http.json("POST", f"{self._p(repo)}/statuses/{sha}", json=payload)

    async def codeowners(self, repo: str) -> GitLabCodeOwners | None:
        """The first of GitLab's CODEOWNERS places, parsed with GitLab's syntax."""
        for path in CODEOWNERS_PATHS:
            text = await self.get_file(repo, path)
            if text is not None:
                return parse_gitlab_codeowners(text)
        return None

    # -- failures ------------------------------------------------------------------------------
    def status_of(self, exc: BaseException) -> int | None:
        return status_of(exc)

    def is_ambiguous(self, exc: BaseException) -> bool:
        return is_ambiguous(exc)


def _implements_forge(api: GitLabAPI) -> Forge:
    """Never called: mypy checks here that GitLabAPI satisfies the Forge protocol."""
    return api
