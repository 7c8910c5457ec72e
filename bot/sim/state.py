"""The forge's in-memory world: people, organisations, repositories, the App and its installations.

`ForgeState` holds the records, the lock that guards them, the id generator, the seed helpers
(quiet set-up: no webhooks) and GitHub's access rules (author_association, permissions).
Mutations of issues and pull requests live in `items.ItemOps`, webhooks in `forge.Forge`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from bot.clock import Clock, SystemClock
from bot.sim.models import (
    ROLES,
    App,
    Installation,
    Issue,
    Label,
    Org,
    OrgMembership,
    Repo,
    Team,
    TeamMembership,
    Token,
    User,
)

# The labels GitHub gives a new repository.
DEFAULT_LABELS: tuple[tuple[str, str, str], ...] = (
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("duplicate", "cfd3d7", "This issue or pull request already exists"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
)


# githubkit caches JWTs and installation tokens process-wide, keyed by app id and installation
# id: every forge of a process gets its own id range so a token cached for an earlier forge
# is never presented to a later one.
_generations = itertools.count()
ID_RANGE = 1_000_000


class ForgeNotFound(LookupError):
    """A record the caller named does not exist (the REST layer turns it into a 404)."""


def node_id(kind: str, ident: int) -> str:
    """GitHub's legacy global id: base64 of `<len>:<Kind><id>`, e.g. `MDU6SXNzdWUx`."""
    return base64.b64encode(f"{len(kind):02d}:{kind}{ident}".encode()).decode()


def fake_sha(*parts: object) -> str:
    return hashlib.sha1("\x00".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def blob_sha(text: str) -> str:
    """The git blob sha of a text, as GitHub reports it in contents responses."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


class ForgeState:
    def __init__(
        self,
        clock: Clock | None = None,
        *,
        api_url: str = "https://api.github.com",
        html_url: str = "https://github.com",
        first_id: int | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.lock = threading.RLock()
        self.api_url = api_url.rstrip("/")
        self.html_url = html_url.rstrip("/")
        self.users: dict[str, User] = {}  # lower login -> user (orgs too, type Organization)
        self.orgs: dict[str, Org] = {}
        self.repos: dict[str, Repo] = {}  # lower full name -> repo
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.app: App | None = None
        self.generation = next(_generations)
        self._ids = itertools.count(first_id or (self.generation + 1) * ID_RANGE + 1)

    # -- basics ----------------------------------------------------------------------------
    def new_id(self) -> int:
        """Monotonically increasing id shared by every kind of record, like GitHub's."""
        with self.lock:
            return next(self._ids)

    def now(self) -> datetime:
        """The forge clock, in UTC, to the second (GitHub's timestamps have no fractions)."""
        return self.clock.now().astimezone(UTC).replace(microsecond=0)

    # -- seed helpers ----------------------------------------------------------------------
    def create_app(
        self, public_pem: str, *, app_id: int, slug: str = "veilleur", owner: str | None = None
    ) -> App:
        with self.lock:
            owner_login = owner or "veilleur-dev"
            if owner_login.lower() not in self.users:
                self.add_user(owner_login)
            self.app = App(
                id=app_id,
                node_id=node_id("App", app_id),
                slug=slug,
                name=slug.capitalize(),
                owner=owner_login,
                public_pem=public_pem,
                created_at=self.now(),
            )
            self.add_user(self.app.bot_login, type="Bot")
            return self.app

    def add_user(
        self,
        login: str,
        *,
        type: str | None = None,
        name: str | None = None,
        email: str | None = None,
        company: str | None = None,
        first_timer: bool = False,
    ) -> User:
        """Create (or update the details of) a user; `type` User or Bot (default: Bot for a
        `…[bot]` login)."""
        type = type or ("Bot" if login.endswith("[bot]") else "User")
        with self.lock:
            user = self.users.get(login.lower())
            if user is None:
                ident = self.new_id()
                user = User(login, ident, node_id(type, ident), self.now(), type=type)
                self.users[login.lower()] = user
            user.name, user.email, user.company = name, email, company
            user.first_timer = first_timer
            return user

    def ensure_user(self, login: str) -> User:
        """The user, created with defaults on first mention (`…[bot]` logins become Bots)."""
        with self.lock:
            found = self.users.get(login.lower())
            if found is not None:
                return found
            return self.add_user(login)

    def add_org(
        self, login: str, *, description: str | None = "", base_permission: str = "read"
    ) -> Org:
        with self.lock:
            if login.lower() in self.orgs:
                return self.orgs[login.lower()]
            ident = self.new_id()
            org = Org(login, ident, node_id("Organization", ident), self.now(), description)
            org.base_permission = base_permission
            self.orgs[login.lower()] = org
            self.users[login.lower()] = User(
                login, ident, org.node_id, org.created_at, type="Organization"
            )
            return org

    def add_member(
        self, org: str, login: str, *, public: bool = False, role: str = "member"
    ) -> OrgMembership:
        """Make `login` an active org member; private unless `public` (GitHub's default)."""
        with self.lock:
            self.ensure_user(login)
            membership = OrgMembership(role=role, public=public)
            self.get_org(org).members[login.lower()] = membership
            return membership

    def remove_member(self, org: str, login: str) -> None:
        with self.lock:
            self.get_org(org).members.pop(login.lower(), None)

    def add_team(
        self,
        org: str,
        slug: str,
        *,
        name: str | None = None,
        members: Iterable[str] = (),
        maintainers: Iterable[str] = (),
        pending: Iterable[str] = (),
    ) -> Team:
        with self.lock:
            the_org = self.get_org(org)
            team = the_org.teams.get(slug)
            if team is None:
                ident = self.new_id()
                team = Team(ident, node_id("Team", ident), slug, name or slug)
                the_org.teams[slug] = team
            for login in members:
                self.add_team_member(org, slug, login)
            for login in maintainers:
                self.add_team_member(org, slug, login, role="maintainer")
            for login in pending:
                self.add_team_member(org, slug, login, state="pending")
            return team

    def add_team_member(
        self, org: str, slug: str, login: str, *, role: str = "member", state: str = "active"
    ) -> TeamMembership:
        """Team members must be org members: an absent one is added (privately) first."""
        with self.lock:
            the_org = self.get_org(org)
            if state == "active" and login.lower() not in the_org.members:
                self.add_member(org, login)
            self.ensure_user(login)
            membership = TeamMembership(role=role, state=state)
            self.get_team(org, slug).members[login.lower()] = membership
            return membership

    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = False,
        default_branch: str = "main",
        description: str | None = None,
        files: Mapping[str, str] | None = None,
        default_labels: bool = True,
    ) -> Repo:
        """A repository with one commit on `default_branch`; an unknown owner becomes an org."""
        owner, name = full_name.split("/", 1)
        with self.lock:
            if owner.lower() not in self.users:
                self.add_org(owner)
            owner_login = self.users[owner.lower()].login
            ident, now = self.new_id(), self.now()
            repo = Repo(
                owner_login, name, ident, node_id("Repository", ident), now, now, now,
                private=private, default_branch=default_branch, description=description,
            )  # fmt: skip
            repo.files[default_branch] = dict(files or {})
            repo.heads[default_branch] = fake_sha("commit", ident, "initial")
            self.repos[full_name.lower()] = repo
            if default_labels:
                for label_name, color, text in DEFAULT_LABELS:
                    lid = self.new_id()
                    repo.labels[label_name] = Label(
                        lid, node_id("Label", lid), label_name, color, text, default=True
                    )
            return repo

    def set_file(
        self, repo: str, path: str, text: str | None, *, branch: str | None = None
    ) -> None:
        """Put (or, with None, delete) a file on a branch without a push event."""
        with self.lock:
            the_repo = self.get_repo(repo)
            files = the_repo.files.setdefault(branch or the_repo.default_branch, {})
            if text is None:
                files.pop(path, None)
            else:
                files[path] = text

    def set_permission(self, repo: str, login: str, role: str | None) -> None:
        """Make `login` a collaborator with `role` (admin … read, see ROLES); None removes."""
        if role is not None and role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
        with self.lock:
            self.ensure_user(login)
            perms = self.get_repo(repo).permissions
            if role is None:
                perms.pop(login.lower(), None)
            else:
                perms[login.lower()] = role

    def add_contributor(self, repo: str, login: str) -> None:
        """Record that `login` has commits in `repo` (author_association CONTRIBUTOR)."""
        with self.lock:
            self.ensure_user(login)
            self.get_repo(repo).contributors.add(login.lower())

    def install(self, account: str, repos: Iterable[str] | None = None) -> Installation:
        """Install the App on an org or user: all its repos, or only `repos` (full names)."""
        with self.lock:
            if self.app is None:
                raise RuntimeError("create_app() first")
            owner = self.get_user(account)
            ident = self.new_id()
            inst = Installation(ident, node_id("Installation", ident), owner.login, self.now())
            if repos is not None:
                inst.repository_selection = "selected"
                inst.repos = {self.get_repo(r).full_name.lower() for r in repos}
            self.installations[ident] = inst
            return inst

    # -- lookups ---------------------------------------------------------------------------
    def get_user(self, login: str) -> User:
        with self.lock:
            user = self.users.get(login.lower())
        if user is None:
            raise ForgeNotFound(f"no user {login}")
        return user

    def get_org(self, login: str) -> Org:
        org = self.orgs.get(login.lower())
        if org is None:
            raise ForgeNotFound(f"no organization {login}")
        return org

    def get_team(self, org: str, slug: str) -> Team:
        team = self.get_org(org).teams.get(slug)
        if team is None:
            raise ForgeNotFound(f"no team {org}/{slug}")
        return team

    def get_repo(self, full_name: str) -> Repo:
        repo = self.repos.get(full_name.lower())
        if repo is None:
            raise ForgeNotFound(f"no repository {full_name}")
        return repo

    def get_issue(self, repo: str | Repo, number: int) -> Issue:
        the_repo = repo if isinstance(repo, Repo) else self.get_repo(repo)
        issue = the_repo.issues.get(number)
        if issue is None:
            raise ForgeNotFound(f"no issue {the_repo.full_name}#{number}")
        return issue

    def get_pull(self, repo: str | Repo, number: int) -> Issue:
        issue = self.get_issue(repo, number)
        if issue.pull is None:
            raise ForgeNotFound(f"#{number} is an issue, not a pull request")
        return issue

    def installation_for_repo(self, repo: Repo) -> Installation | None:
        """The App's installation that covers `repo`, if any (used for webhook payloads)."""
        for inst in self.installations.values():
            if self.covers(inst, repo):
                return inst
        return None

    def covers(self, inst: Installation, repo: Repo) -> bool:
        if inst.account.lower() != repo.owner.lower():
            return False
        return inst.repository_selection == "all" or repo.full_name.lower() in inst.repos

    def org_of(self, repo: Repo) -> Org | None:
        return self.orgs.get(repo.owner.lower())

    # -- GitHub's access rules -------------------------------------------------------------
    def author_association(self, repo: Repo, login: str) -> str:
        """As GitHub computes it: a *private* org member is not MEMBER (realism on purpose)."""
        low = login.lower()
        if repo.owner.lower() == low:
            return "OWNER"
        org = self.org_of(repo)
        membership = org.members.get(low) if org else None
        if membership and membership.public and membership.state == "active":
            return "MEMBER"
        if low in repo.permissions:
            return "COLLABORATOR"
        if low in repo.contributors:
            return "CONTRIBUTOR"
        if any(i.pull and i.user.lower() == low for i in repo.issues.values()):
            user = self.users.get(low)
            return "FIRST_TIMER" if user and user.first_timer else "FIRST_TIME_CONTRIBUTOR"
        return "NONE"

    def role_of(self, repo: Repo, login: str) -> str | None:
        """Highest role from ownership, collaborator grant and org membership; public repos
        give everyone `read`. None means no access at all."""
        low = login.lower()
        if repo.owner.lower() == low:
            return "admin"
        found = [repo.permissions.get(low)]
        org = self.org_of(repo)
        membership = org.members.get(low) if org else None
        if org and membership and membership.state == "active":
            found.append("admin" if membership.role == "admin" else org.base_permission)
        ranked = [r for r in found if r in ROLES]
        if ranked:
            return min(ranked, key=ROLES.index)
        return None if repo.private else "read"
