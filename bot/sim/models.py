"""Plain records the simulated forge keeps in memory; `shapes` renders them as GitHub does.

Logins and repository names are matched case-insensitively, like on GitHub; the records keep the
spelling they were created with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ROLES = ("admin", "maintain", "write", "triage", "read")


@dataclass
class User:
    login: str
    id: int
    node_id: str
    created_at: datetime
    type: str = "User"  # User | Bot | Organization
    name: str | None = None
    email: str | None = None
    company: str | None = None
    first_timer: bool = False  # never committed anywhere on the forge (FIRST_TIMER)


@dataclass
class OrgMembership:
    role: str = "member"  # member | admin
    public: bool = False
    state: str = "active"  # active | pending


@dataclass
class TeamMembership:
    role: str = "member"  # member | maintainer
    state: str = "active"  # active | pending


@dataclass
class Team:
    id: int
    node_id: str
    slug: str
    name: str
    description: str | None = None
    privacy: str = "closed"
    members: dict[str, TeamMembership] = field(default_factory=dict)  # lower login -> membership


@dataclass
class Org:
    login: str
    id: int
    node_id: str
    created_at: datetime
    description: str | None = ""
    base_permission: str = "read"  # what every member gets on every repo
    members: dict[str, OrgMembership] = field(default_factory=dict)  # lower login -> membership
    teams: dict[str, Team] = field(default_factory=dict)  # slug -> team


@dataclass
class Label:
    id: int
    node_id: str
    name: str
    color: str = "ededed"
    description: str | None = None
    default: bool = False


@dataclass
class FileChange:
    """One file a pull request touches. `content` None means unknown (kept as is on merge)."""

    filename: str
    status: str = "modified"  # added | removed | modified | renamed
    additions: int = 1
    deletions: int = 0
    content: str | None = None
    patch: str | None = None


@dataclass
class Commit:
    sha: str
    message: str
    author: str  # login
    timestamp: datetime
    parents: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)


@dataclass
class Review:
    id: int
    node_id: str
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    body: str
    commit_id: str
    submitted_at: datetime


@dataclass
class PullExtras:
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    files: list[FileChange] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    draft: bool = False
    merged: bool = False
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None


@dataclass
class IssueEvent:
    """A timeline event other than comments, reviews and commits (GraphQL `timelineItems`).

    `kind`: labeled | unlabeled | assigned | unassigned | closed | reopened | merged |
    ready_for_review | converted_to_draft | review_requested. `subject`: the label name, the
    assignee or the requested reviewer (a team as `@slug`). `actor` None: a deleted account.
    """

    id: int
    node_id: str
    kind: str
    actor: str | None
    created_at: datetime
    subject: str | None = None


@dataclass
class Issue:
    """An issue or, when `pull` is set, a pull request (they share one number sequence)."""

    id: int
    node_id: str
    number: int
    title: str
    body: str | None
    user: str
    created_at: datetime
    updated_at: datetime
    labels: list[str] = field(default_factory=list)  # label names, in the order applied
    assignees: list[str] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    locked: bool = False
    via_app: bool = False  # created by the App (performed_via_github_app)
    pull: PullExtras | None = None
    events: list[IssueEvent] = field(default_factory=list)  # oldest first

    @property
    def is_pull(self) -> bool:
        return self.pull is not None


@dataclass
class Comment:
    id: int
    node_id: str
    issue_number: int
    user: str
    body: str
    created_at: datetime
    updated_at: datetime
    via_app: bool = False


@dataclass
class CheckRun:
    id: int
    node_id: str
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    output: dict[str, object]
    external_id: str | None = None
    details_url: str | None = None


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    node_id: str
    created_at: datetime
    updated_at: datetime
    pushed_at: datetime
    private: bool = False
    default_branch: str = "main"
    description: str | None = None
    files: dict[str, dict[str, str]] = field(default_factory=dict)  # branch -> path -> text
    heads: dict[str, str] = field(default_factory=dict)  # branch -> head sha
    labels: dict[str, Label] = field(default_factory=dict)  # lower name -> label
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)  # lower login -> role
    contributors: set[str] = field(default_factory=set)  # lower logins that committed here
    check_runs: list[CheckRun] = field(default_factory=list)
    community: dict[str, object] | None = None  # overrides the computed community profile
    last_number: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Installation:
    id: int
    node_id: str
    account: str  # login of the org or user
    created_at: datetime
    repository_selection: str = "all"  # all | selected
    repos: set[str] = field(default_factory=set)  # lower full names, when selected
    suspended_at: datetime | None = None


@dataclass
class App:
    id: int
    node_id: str
    slug: str
    name: str
    owner: str
    public_pem: str
    created_at: datetime
    client_id: str = "Iv1.0000000000000000"
    permissions: dict[str, str] = field(
        default_factory=lambda: {
            "checks": "write",
            "contents": "read",
            "issues": "write",
            "members": "read",
            "metadata": "read",
            "pull_requests": "write",
        }
    )
    events: list[str] = field(
        default_factory=lambda: [
            "issues",
            "issue_comment",
            "label",
            "member",
            "membership",
            "organization",
            "pull_request",
            "pull_request_review",
            "push",
            "repository",
        ]
    )

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Token:
    token: str
    installation_id: int
    expires_at: float  # wall-clock epoch seconds: githubkit caches tokens by the wall clock
