"""The simulated GitLab's state: users, groups with members, projects with files, labels,
issues, merge requests, notes and approvals. Objects are kept in GitLab's REST shape
(field names and types checked against recorded responses in tests/test_gitlab_sim.py)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from bot.clock import Clock

Json = dict[str, Any]
GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50


@dataclass
class Project:
    id: int
    path: str  # "group/sub/project"
    default_branch: str = "main"
    visibility: str = "public"
    files: dict[str, str] = field(default_factory=dict)
    members: dict[int, int] = field(default_factory=dict)  # user id -> access level
    labels: dict[str, Json] = field(default_factory=dict)  # lower name -> label
    issues: dict[int, Json] = field(default_factory=dict)
    merge_requests: dict[int, Json] = field(default_factory=dict)
    notes: dict[tuple[str, int], list[Json]] = field(default_factory=dict)
    statuses: list[Json] = field(default_factory=list)
    next_iid: dict[str, int] = field(default_factory=lambda: {"issues": 1, "merge_requests": 1})

    @property
    def namespace(self) -> str:
        return self.path.rpartition("/")[0]


@dataclass
class WebHook:
    """A project or group webhook and its delivery log (GitLab's `web_hook_logs`, newest last;
    served by bot/sim/gitlab/hook_api.py)."""

    id: int
    scope: str  # "projects" or "groups"
    parent: str  # the project's or group's path
    url: str
    logs: list[Json] = field(default_factory=list)
    resends: list[float] = field(default_factory=list)  # when resends were asked (rate limit)

    def covers(self, project_path: str) -> bool:
        """A group hook fires for every project of the group and its subgroups."""
        if self.scope == "projects":
            return project_path == self.parent
        return project_path.startswith(self.parent + "/")


class GitLabWorld:
    def __init__(self, clock: Clock, *, host_url: str = "http://gitlab.test") -> None:
        self.clock = clock
        self.url = host_url  # set to the server's address when served
        self.lock = threading.RLock()
        self._ids = itertools.count(1000)
        self.users: dict[int, Json] = {}
        self.groups: dict[str, Json] = {}  # full path -> group (with "members")
        self.projects: dict[str, Project] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) served
        self.rate_limit = 2000  # per minute, as on GitLab.com
        self.observed = 0
        self.throttle_next: list[int] = []
        # GraphQL (bot/sim/gitlab/graphql.py): "on"; "off" answers 404 (an instance without
        # it); "before-16.5" has no `filter` on notes (older instances). Scores served, in order.
        self.graphql = "on"
        self.graphql_scores: list[int] = []
        self.graphql_field_costs: dict[
            str, int
        ] = {}  # a field GitLab prices above 1  # Retry-After seconds of the next answers: 429s
        self.webhook_url: str | None = None
        self.webhook_token = "gitlab-sim-token"  # noqa: S105 - the simulator's own test secret
        self.signing_token: str | None = None
        self.sender: Any = None  # bot/sim/gitlab/hooks.py HookSender, set by the server
        self.api_token = "glpat-simulated"  # noqa: S105 - the simulator's own test token
        self.hooks: dict[int, WebHook] = {}  # project and group webhooks (add_hook)
        # Deliveries fail: "internal error" (refused), "timeout" (received, answered too late)
        # or a status (a proxy's 502).
        self.outage: str | int | None = None
        self.bot = self.add_user("veilleur-bot", name="Veilleur", bot=True)

    def new_id(self) -> int:
        return next(self._ids)

    def now(self) -> str:
        return self.clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    # -- seeding ---------------------------------------------------------------------------
    def add_user(
        self, username: str, *, name: str | None = None, bot: bool = False, email: str = ""
    ) -> Json:
        with self.lock:
            uid = self.new_id()
            self.users[uid] = {
                "id": uid,
                "username": username,
                "name": name or username.title(),
                "state": "active",
                "locked": False,
                "avatar_url": None,
                "web_url": f"{self.url}/{username}",
                "created_at": self.now(),
                "bio": "",
                "bot": bot,
                "location": None,
                "public_email": email,
                "organization": "",
                "job_title": "",
            }
            return self.users[uid]

    def user(self, username: str) -> Json:
        for u in self.users.values():
            if u["username"].lower() == username.lower():
                return u
        raise KeyError(username)

    def add_group(self, path: str) -> Json:
        with self.lock:
            gid = self.new_id()
            parent = self.groups.get(path.rpartition("/")[0])
            self.groups[path] = {
                "id": gid,
                "name": path.rpartition("/")[2],
                "path": path.rpartition("/")[2],
                "full_name": path.replace("/", " / "),
                "full_path": path,
                "description": "",
                "visibility": "public",
                "parent_id": parent["id"] if parent else None,
                "members": {},
            }
            return self.groups[path]

    def add_member(self, where: str, username: str, access_level: int) -> None:
        """`where`: a group's full path or a project's path."""
        uid = self.user(username)["id"]
        with self.lock:
            if where in self.projects:
                self.projects[where].members[uid] = access_level
            else:
                self.groups[where]["members"][uid] = access_level

    def add_project(self, path: str, *, files: dict[str, str] | None = None, **kw: Any) -> Project:
        with self.lock:
            group = path.rpartition("/")[0]
            if group and group not in self.groups:
                self.add_group(group)
            project = Project(id=self.new_id(), path=path, files=dict(files or {}), **kw)
            self.projects[path] = project
            return project

    def add_hook(self, where: str, url: str) -> WebHook:
        """A webhook on a project or a group (`where`: its path). Without any, hooks go to
        `webhook_url` and are logged nowhere (the tests that do not look at the log)."""
        with self.lock:
            scope = "projects" if where in self.projects else "groups"
            hook = WebHook(self.new_id(), scope, where, url)
            self.hooks[hook.id] = hook
            return hook

    def move_project(self, old: str, new: str) -> Project:
        """Rename a project or transfer it to another group: same id, new path (as GitLab)."""
        with self.lock:
            project = self.projects.pop(old)
            group = new.rpartition("/")[0]
            if group and group not in self.groups:
                self.add_group(group)
            project.path = new
            self.projects[new] = project
            for hook in self.hooks.values():  # its webhooks move with it
                if hook.scope == "projects" and hook.parent == old:
                    hook.parent = new
            return project

    # -- access ------------------------------------------------------------------------------
    def access_level(self, project_or_group: str, user_id: int) -> int | None:
        """Direct or inherited (from every ancestor group), the highest wins, as members/all."""
        levels: list[int] = []
        project = self.projects.get(project_or_group)
        if project is not None:
            levels += [project.members[user_id]] if user_id in project.members else []
            path = project.namespace
        else:
            path = project_or_group
        while path:
            group = self.groups.get(path)
            if group is not None and user_id in group["members"]:
                levels.append(group["members"][user_id])
            path = path.rpartition("/")[0]
        return max(levels) if levels else None

    def brief_user(self, uid: int) -> Json:
        u = self.users[uid]
        keys = ("id", "username", "name", "state", "avatar_url", "web_url")
        return {k: u[k] for k in keys}
